"""Environments: envpool batches stepped inside jit, Pong Soup and other observation transforms."""

import warnings

# gymnasium notes that envpool's float64 Box bounds are cast to float32; harmless, and it would
# print twice per environment made.
warnings.filterwarnings("ignore", message=".*precision lowered by casting to float32")
