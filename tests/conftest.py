"""Data sets loaded once per test session: MNIST's splits, MNIST test alone (without the training files) and the
OOD sets (rendering Omniglot and decoding CIFAR-10 takes tens of seconds)."""
import pytest

import data


@pytest.fixture(scope="session")
def splits() -> dict[str, data.Split]:
    return data.mnist_splits()


@pytest.fixture(scope="session")
def mnist_test() -> data.Split:
    return data.mnist_test()


@pytest.fixture(scope="session")
def ood() -> dict[str, data.Split]:
    return data.ood_sets(say=lambda _: None)
