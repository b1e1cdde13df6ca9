"""helpers.seeding: seeds, and all the noise of the course (keyed by draw number or by example content)."""

import pytest
import torch

from helpers.seeding import derive_seed, example_normal, indexed_normal, make_generator, seed_everything


def test_indexed_draws_do_not_depend_on_which_others_are_drawn():
    every = indexed_normal(7, range(6), (2, 3))
    assert torch.equal(every[[4, 1]], indexed_normal(7, [4, 1], (2, 3)))
    assert not torch.equal(every, indexed_normal(8, range(6), (2, 3)))
    assert derive_seed(0, 1) == derive_seed(0, 1) and derive_seed(0, 1) != derive_seed(1, 0)
    assert 0 <= derive_seed(2**32 - 1, -5, 10**12) < 2**32



def test_example_noise_does_not_depend_on_the_rest_of_the_batch(mnist_test):
    x = mnist_test[0][:6]
    assert torch.equal(example_normal(x, 3)[2:3], example_normal(x[2:3], 3))
    assert torch.equal(example_normal(x.flip(0), 3).flip(0), example_normal(x, 3))
    assert not torch.equal(example_normal(x, 3), example_normal(x, 4))  # the seed matters
    assert not torch.equal(example_normal(x, 3)[0], example_normal(x, 3)[1])  # examples get their own noise
    noise = example_normal(mnist_test[0][:200], 0)
    assert abs(float(noise.mean())) < 0.01 and abs(float(noise.std()) - 1) < 0.01


def test_same_seed_same_draws():
    assert torch.equal(torch.rand(3, generator=make_generator(5)), torch.rand(3, generator=make_generator(5)))
    seed_everything(1)
    first = torch.rand(2)
    seed_everything(1)
    assert torch.equal(first, torch.rand(2))


def test_bad_noise_arguments_are_refused():
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        example_normal(torch.zeros(2, 3), seed=-1)
    with pytest.raises(ValueError, match=r"x must be a float batch \[B, \.\.\.\]"):
        example_normal(torch.zeros(3), seed=0)


def test_seed_everything_has_a_way_out_of_deterministic_mode():
    try:
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        seed_everything(0, deterministic=False)
        assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic
    finally:
        seed_everything(0)  # the course's setting, for the tests that follow
    with pytest.raises(TypeError, match="deterministic must be True or False"):
        seed_everything(0, deterministic="yes")


def test_a_key_beyond_128_bits_is_a_clear_error():
    with pytest.raises(ValueError, match=r"key must be an int <= "):
        derive_seed(0, 2**200)


def test_seeded_global_rng_seeds_the_block_and_reseeds_no_gpu(monkeypatch):
    from helpers.seeding import seeded_global_rng

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(("all", seed)))
    before = torch.get_rng_state()
    with seeded_global_rng(5):
        a = torch.rand(3)
    with seeded_global_rng(5):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before) and calls == []


def test_the_helpers_that_seed_layers_leave_every_generator_alone(monkeypatch, trained_cnn, mnist_test):
    from helpers.metrics import cascading_randomisation
    from helpers.saliency import gradient
    from helpers.text_models import train_sentence_head

    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))  # what torch.manual_seed calls
    embeddings = torch.rand(20, 8)
    before = torch.get_rng_state()
    cascading_randomisation(trained_cnn, mnist_test[0][:2], gradient, similarities=("spearman_abs",))
    train_sentence_head(embeddings, torch.arange(20) % 2, epochs=1)
    assert calls == [] and torch.equal(torch.get_rng_state(), before)
