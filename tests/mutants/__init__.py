"""Known-wrong implementations of learner functions, one module per exercise, for mutation tests."""
