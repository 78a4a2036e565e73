"""Each representation's measured speed on this server, for the training page (issue 11: encoders listed "with
language coverage, size and measured speed")."""
