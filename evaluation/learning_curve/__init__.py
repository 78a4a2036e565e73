"""Learning curves: train on growing shares of the training set to see whether more tagging would still pay."""
