"""The command-line tools behind `paddle-pp` and `deploy/*.py`: predictors, export, benchmark, evaluation."""
