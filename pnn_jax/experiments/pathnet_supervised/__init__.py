"""The supervised PathNet protocols (docs/papers.md 2, 3): the paper's binary-MNIST transfer
(:mod:`.binary_mnist`) and CIFAR/SVHN transfer (:mod:`.cifar_svhn`), the thesis study
(:mod:`.first_path`) and its selection-pressure follow-up (:mod:`.selection_pressure`), over one
engine of vmapped repetitions (:mod:`.common`)."""
