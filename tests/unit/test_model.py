"""The CoLog network (shapes, attention outputs, ablations, masking) and its model directory."""

import json
import shutil

import numpy as np
import pytest
import torch

from colog.core.model.bundle import ModelDirError, load_model_dir, save_model_dir
from colog.core.model.config import ABLATIONS, ConfigError, ModelConfig
from colog.core.model.network import CoLog, masked_softmax

VOCAB = 500
L = 12


def small_config(**overrides) -> ModelConfig:
    # Tiny and randomly initialised: shape and masking logic do not depend on size.
    base = dict(vocab_size=VOCAB, max_tokens=L, hidden=32, heads=4, projection=64,
                token_dim=16, token_init="random", dropout=0.0)
    base.update(overrides)
    return ModelConfig(**base)


def inputs(config: ModelConfig, batch: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    k = config.context_length
    tokens = torch.randint(1, VOCAB, (batch, L), generator=g)
    lengths = torch.tensor([L, 7, 3, 1, 5, 9][:batch])
    tokens[torch.arange(L)[None, :] >= lengths[:, None]] = 0
    sequence = torch.randn(batch, k, 384, generator=g)
    mask = torch.ones(batch, k)
    mask[1, 0] = 0.0            # stream start: no event before
    mask[2, :] = 0.0            # guard case: no row at all
    sequence[mask == 0] = 0.0
    return tokens, sequence, mask


@pytest.mark.parametrize("classes", [2, 4])
@pytest.mark.parametrize("mode", ["context", "background"])
@pytest.mark.parametrize("ablation", list(ABLATIONS))
def test_shapes_and_attention_outputs(classes, mode, ablation):
    config = small_config(num_classes=classes, sequence_mode=mode, window=2, **ABLATIONS[ablation])
    model = CoLog(config).eval()
    tokens, sequence, mask = inputs(config)
    with torch.no_grad():
        out = model(tokens, sequence, mask)
    k = config.context_length
    assert k == (5 if mode == "context" else 3)
    assert out.logits.shape == (6, classes)
    assert out.modality_weights.shape == (6, 2)
    assert out.context_attention.shape == (6, k)
    assert out.token_attention.shape == (6, L)
    for tensor in out:
        assert torch.isfinite(tensor).all(), f"{ablation}: non-finite output"
    assert torch.allclose(out.modality_weights.sum(-1), torch.ones(6), atol=1e-5)
    # Zero where masked; sums to 1 over the real rows (0 when a row has none).
    assert (out.context_attention[mask == 0] == 0).all()
    # Over the rows the sequence modality holds: the neighbours, or the whole window when the
    # event's own embedding stays in it.
    rows = mask.clone()
    if model.event_node:
        rows[:, config.window] = 0.0
        assert (out.context_attention[:, config.window] == 0).all()
    assert torch.allclose(out.context_attention.sum(-1), (rows.sum(-1) > 0).float(), atol=1e-5)
    assert (out.token_attention[tokens == 0] == 0).all()
    assert torch.allclose(out.token_attention.sum(-1), torch.ones(6), atol=1e-5)
    if ablation == "semantic_only":
        assert (out.modality_weights == torch.tensor([1.0, 0.0])).all()
    if ablation == "sequence_only":
        assert (out.modality_weights == torch.tensor([0.0, 1.0])).all()


def test_ablations_change_the_architecture():
    counts = {name: sum(p.numel() for p in CoLog(small_config(**ab)).parameters())
              for name, ab in ABLATIONS.items()}
    assert counts["no_mal"] < counts["full"]
    assert counts["semantic_only"] < counts["full"] and counts["sequence_only"] < counts["full"]
    assert counts["no_bl"] != counts["full"]
    assert counts["mha"] == counts["full"]  # same layers, different keys/values


def test_impressed_attention_reads_the_other_modality():
    """With MHIA the semantic stream depends on the neighbours' rows; with MHA (and no fusion
    of the sequence branch) the semantic token attention cannot."""
    tokens, sequence, mask = inputs(small_config())
    other = sequence + 1.0
    centre = small_config().window
    other[:, centre] = sequence[:, centre]  # the event's own embedding is a semantic node
    for attention, should_change in (("mhia", True), ("mha", False)):
        torch.manual_seed(0)
        model = CoLog(small_config(attention=attention)).eval()
        with torch.no_grad():
            a = model(tokens, sequence, mask).token_attention
            b = model(tokens, other, mask).token_attention
        assert (not torch.allclose(a, b)) == should_change, attention


def test_no_nan_when_everything_is_masked_and_gradients_flow():
    config = small_config(num_classes=4)
    model = CoLog(config).train()
    tokens = torch.zeros(3, L, dtype=torch.long)
    sequence = torch.zeros(3, config.context_length, 384)
    mask = torch.zeros(3, config.context_length)
    out = model(tokens, sequence, mask)
    assert torch.isfinite(out.logits).all()
    out.logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::FutureWarning")
def test_trimming_padding_columns_does_not_change_results():
    torch.manual_seed(1)
    model = CoLog(small_config()).eval()
    tokens, sequence, mask = inputs(small_config())
    tokens[:, 9:] = 0  # the trimmed path runs on 9 columns, the traced one on all 12
    with torch.no_grad():
        eager = model(tokens, sequence, mask)
        traced = torch.jit.trace(model, (tokens, sequence, mask), strict=False)(
            tokens, sequence, mask)
    for a, b in zip(eager, traced):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-5)


def test_masked_softmax_rows():
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    mask = torch.tensor([[True, False, True], [False, False, False]])
    weights = masked_softmax(scores, mask)
    assert weights[0, 1] == 0 and torch.isclose(weights[0].sum(), torch.tensor(1.0))
    assert (weights[1] == 0).all()


def test_minilm_initialisation_is_frozen_and_matches_the_package():
    from colog.core.model.network import minilm_word_embeddings

    model = CoLog(ModelConfig(vocab_size=30522, hidden=32, projection=64))
    reference = minilm_word_embeddings()
    assert torch.equal(model.token_embedding.weight[1:], reference[1:])
    assert not model.token_embedding.weight.requires_grad
    assert (model.token_embedding.weight[0] == 0).all()


@pytest.mark.parametrize("change, key", [
    ({"hidden": 30}, "hidden"), ({"num_classes": 3}, "num_classes"),
    ({"attention": "cross"}, "attention"), ({"modalities": "audio"}, "modalities"),
    ({"dropout": 1.5}, "dropout"), ({"use_mal": "yes"}, "use_mal"), ({"window": -1}, "window"),
    ({"mal": "pooled"}, "mal"), ({"event_embedding": "both"}, "event_embedding"),
])
def test_config_validation_names_the_key(change, key):
    data = small_config().to_dict() | change
    with pytest.raises(ConfigError, match=key):
        ModelConfig.from_dict(data)


def test_config_without_later_keys_builds_the_network_it_was_saved_from():
    data = small_config().to_dict()
    for key in ("mal", "event_embedding"):
        data.pop(key)
    old = ModelConfig.from_dict(data)
    assert (old.mal, old.event_embedding) == ("gate", "sequence")
    assert small_config().mal == "attention" and small_config().event_embedding == "semantic"


def test_mal_lets_every_node_see_the_others():
    """The paper's MAL mixes nodes of one modality: changing one token changes the others'
    outputs; the gate ablation only passes a pooled summary (still a dependence, but the
    attention version must depend on it too)."""
    from colog.core.model.network import ModalityAdaptation

    torch.manual_seed(0)
    layer = ModalityAdaptation(hidden=16, projection=32, dropout=0.0).eval()
    h = torch.randn(1, 5, 16)
    mask = torch.ones(1, 5, dtype=torch.bool)
    changed = h.clone()
    changed[0, 4] += 3.0
    with torch.no_grad():
        a, b = layer(h, mask), layer(changed, mask)
        masked = mask.clone()
        masked[0, 4] = False
        c, d = layer(h, masked), layer(changed, masked)
    assert not torch.allclose(a[0, :4], b[0, :4])   # node 4 reaches nodes 0-3
    assert torch.allclose(c[0, :4], d[0, :4])       # unless it is padding


def test_config_round_trip_and_unknown_key():
    config = small_config(sequence_mode="background", window=3, use_balancing=False)
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="colour"):
        ModelConfig.from_dict(config.to_dict() | {"colour": "red"})
    with pytest.raises(ConfigError, match="vocab_size"):
        ModelConfig.from_dict({"hidden": 32})


# --- the model directory -----------------------------------------------------------------


def saved(tmp_path, num_classes=2, **overrides):
    config = small_config(num_classes=num_classes, **overrides)
    torch.manual_seed(3)
    model = CoLog(config).eval()
    extra = tmp_path / "tokenizer.json"
    extra.write_text("{}", encoding="utf-8")
    classes = ["normal", "anomaly"] if num_classes == 2 else ["normal", "event", "context", "both"]
    out = save_model_dir(tmp_path / "model", model, config, classes=classes,
                         feature_config={"window": 1, "sequence_mode": "context",
                                         "max_tokens": L},
                         metrics={"validation": {"macro_f1": np.float64(0.5)}},
                         extra_files={"tokenizer.json": extra})
    return out, model, config


@pytest.mark.parametrize("num_classes", [2, 4])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, num_classes):
    out, model, config = saved(tmp_path, num_classes)
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors", "config.json", "classes.json", "feature_config.json",
        "metrics.json", "decision.json", "version.json", "tokenizer.json"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    loaded = load_model_dir(out)
    assert loaded.config == config
    assert not loaded.model.training
    assert loaded.metrics["validation"]["macro_f1"] == 0.5
    version = json.loads((out / "version.json").read_text())
    assert len(version["content_hash"]) == 64 and version["colog_version"]
    tokens, sequence, mask = (t.numpy() for t in inputs(config))
    got = loaded.predict(tokens, sequence, mask, batch_size=4)  # crosses a batch boundary
    with torch.no_grad():
        want = model(*(torch.from_numpy(a) for a in (tokens, sequence, mask)))
    assert set(got) == {"probs", "modality_weights", "context_attention", "token_attention"}
    # Batches of 4 trim padding differently from one batch of 6: equal up to float rounding.
    np.testing.assert_allclose(got["probs"], torch.softmax(want.logits, -1).numpy(), atol=1e-6)
    np.testing.assert_allclose(got["token_attention"], want.token_attention.numpy(), atol=1e-6)
    same = load_model_dir(out).predict(tokens, sequence, mask, batch_size=6)
    np.testing.assert_array_equal(same["probs"], torch.softmax(want.logits, -1).numpy())
    np.testing.assert_allclose(got["probs"].sum(1), 1.0, atol=1e-5)
    assert got["probs"].shape == (6, num_classes) and got["probs"].dtype == np.float32
    again = load_model_dir(out).predict(tokens, sequence, mask, batch_size=4)
    for key in got:
        np.testing.assert_array_equal(again[key], got[key])


def test_saving_over_a_model_replaces_it_and_refuses_foreign_dirs(tmp_path):
    out, _, _ = saved(tmp_path)
    first = json.loads((out / "version.json").read_text())["content_hash"]
    out2, _, _ = saved(tmp_path, num_classes=4)
    assert out2 == out and load_model_dir(out).classes[-1] == "both"
    assert json.loads((out / "version.json").read_text())["content_hash"] != first
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"x")
    config = small_config()
    with pytest.raises(ModelDirError, match="not a model directory"):
        save_model_dir(foreign, CoLog(config), config, classes=["normal", "anomaly"],
                       feature_config={}, metrics={})
    assert (foreign / "cat.jpg").exists()


def test_missing_directory(tmp_path):
    with pytest.raises(ModelDirError, match="does not exist"):
        load_model_dir(tmp_path / "nope")


def test_missing_weights(tmp_path):
    out, _, _ = saved(tmp_path)
    (out / "model.safetensors").unlink()
    with pytest.raises(ModelDirError, match="model.safetensors is missing"):
        load_model_dir(out)


def test_corrupt_config_json(tmp_path):
    out, _, _ = saved(tmp_path)
    (out / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelDirError, match="config.json is corrupt"):
        load_model_dir(out)


def test_invalid_config_value(tmp_path):
    out, _, _ = saved(tmp_path)
    data = json.loads((out / "config.json").read_text()) | {"heads": 5}
    (out / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelDirError, match=r"config.json is invalid.*heads"):
        load_model_dir(out)


def test_wrong_shapes(tmp_path):
    out, _, _ = saved(tmp_path)
    data = json.loads((out / "config.json").read_text()) | {"hidden": 64}
    (out / "config.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelDirError, match="content hash mismatch"):
        load_model_dir(out)
    with pytest.raises(ModelDirError, match=r"model.safetensors does not match.*wrong shapes"):
        load_model_dir(out, verify=False)


def test_corrupt_weights(tmp_path):
    out, _, _ = saved(tmp_path)
    (out / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelDirError, match="model.safetensors is corrupt"):
        load_model_dir(out, verify=False)


def test_unknown_class_list(tmp_path):
    out, _, _ = saved(tmp_path)
    (out / "classes.json").write_text(json.dumps(["ok", "bad"]), encoding="utf-8")
    with pytest.raises(ModelDirError, match="classes.json: unknown class list"):
        load_model_dir(out)


def test_missing_feature_config(tmp_path):
    out, _, _ = saved(tmp_path)
    (out / "feature_config.json").unlink()
    with pytest.raises(ModelDirError, match="feature_config.json is missing"):
        load_model_dir(out)


def test_predict_rejects_a_window_of_the_wrong_length(tmp_path):
    out, _, config = saved(tmp_path)
    tokens, sequence, mask = (t.numpy() for t in inputs(config))
    with pytest.raises(ValueError, match="window rows"):
        load_model_dir(out).predict(tokens, sequence[:, :2], mask[:, :2])


def test_loading_needs_no_trainer_code(tmp_path):
    import subprocess
    import sys

    out, _, _ = saved(tmp_path)
    code = ("import sys; from colog.core.model.bundle import load_model_dir; "
            f"load_model_dir({str(out)!r}); "
            "assert not [m for m in sys.modules if m.startswith('colog.services.train')], 'trainer imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    shutil.rmtree(out)
