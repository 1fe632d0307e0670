"""Training, evaluation and retraining of c5desk models (imports c5desk; c5desk never imports this)."""
