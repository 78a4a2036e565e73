"""Pretraining the CNN on the project's own text (``ner.pretrain``): a background job whose weights the next
training may start from."""
