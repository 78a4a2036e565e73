"""Pre-annotation: a trained model's predictions written as suggestions on many documents, as a background job."""
