"""Estimators: predict the footprint of training (training.py) and serving (inference.py) before it runs."""
