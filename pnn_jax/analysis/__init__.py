"""Transfer analysis: the papers' metrics as pure functions (the tables built from them are
:mod:`pnn_jax.tables`).

* :mod:`~pnn_jax.analysis.transfer`: learning curves, AUC transfer scores, matrices, top-k
  (docs/papers.md 1.4, 1.6);
* :mod:`~pnn_jax.analysis.speedup`: time to criterion and PathNet speedup ratios (docs/papers.md 2.4);
* :mod:`~pnn_jax.analysis.sensitivity`: AFS and APS of progressive nets (docs/papers.md 1.7);
* :mod:`~pnn_jax.analysis.pathnet`: module reuse, random-selection baseline, training counters,
  capacity and population diversity (docs/papers.md 3.1, 3.2).
"""
