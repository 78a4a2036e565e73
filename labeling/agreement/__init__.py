"""Agreement: annotators tag their own copies of a document, the report compares them, a manager adjudicates."""
