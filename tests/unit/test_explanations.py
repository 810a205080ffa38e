"""Explanations: words of the original message (never word pieces), occlusion rows, the line."""

from __future__ import annotations

import re

import numpy as np
import pytest

from colog.core.explain.occlusion import occlusion_rows, ranked
from colog.core.explain.summary import NeighbourRef, absent, explanation_fields, explanation_line
from colog.core.explain.words import message_words
from colog.core.features.semantic import (
    SemanticTokenizer,
    semantic_text,
    semantic_text_with_origins,
)
from colog.core.parsing.masking import mask_message, mask_with_origins

MESSAGES = [
    "FAILED su for root by ubuntu",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
    "rhost=218.188.2.4",
    "Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6",
    "Connection from 2001:db8::1 port 5555 on www.example.com:443 at 0x7f3a2b",
    "Ünïcode—ΣΑΣ: 42.5% «done» 日本語 İstanbul straße ﬁle",
    "jk2_init() Found child 6725 in scoreboard slot 10",
    "<html> tag <NUM> literal <*> and C:\\Windows\\system32\\drv.sys, /var/log/x.log!",
    "...;;;!!!",
    "a" * 300 + " tail words beyond the cut " + "b " * 80,
]


@pytest.fixture(scope="module")
def tokenizer():
    return SemanticTokenizer(max_tokens=60)


@pytest.mark.parametrize("raw", MESSAGES + ["", "   ", "\u200b"])
def test_traced_masking_and_semantic_text_equal_the_model_inputs(raw):
    traced = mask_with_origins(raw)
    assert traced.text == mask_message(raw)
    assert len(traced.origins) == len(traced.text)
    for a, b in traced.parameters:  # each replaced value is a real slice of the message
        assert 0 <= a < b <= len(raw)
    text_origins = semantic_text_with_origins(traced.text)
    assert text_origins is not None and text_origins[0] == semantic_text(traced.text)


def test_parameters_map_back_to_the_values_they_replaced():
    raw = "Accepted password for root from 10.0.0.1:22 port 5555 ssh2 at /var/log/auth.log"
    traced = mask_with_origins(raw)
    assert traced.text == "Accepted password for root from <IP> port <NUM> ssh2 at <PATH>"
    assert [raw[a:b] for a, b in traced.parameters] == ["10.0.0.1:22", "5555", "/var/log/auth.log"]


def is_whole_word(raw: str, word) -> bool:
    if word.parameter:
        return True
    before = raw[word.start - 1] if word.start > 0 else " "
    after = raw[word.end] if word.end < len(raw) else " "
    return not re.match(r"\w", before) and not re.match(r"\w", after)


@pytest.mark.parametrize("raw", MESSAGES)
def test_words_are_slices_of_the_message_never_pieces(raw, tokenizer):
    words = message_words(raw, tokenizer)
    if not re.search(r"\w", raw):
        assert words is None  # punctuation only: nothing a word could be
        return
    assert words is not None
    for word in words.words:
        assert raw[word.start:word.end] == word.text and word.text in raw
        assert not word.text.startswith("##")
        assert word.text.strip() == word.text and word.text
        assert is_whole_word(raw, word), word
    pieces = [tokenizer.tokens_of(np.asarray([i]))[0] for i in words.piece_ids]
    for piece, owners in zip(pieces, words.piece_words):
        if piece.startswith("##"):  # a continuation piece belongs to its word's owner
            assert owners
    # Every piece of a word that is not a parameter is part of it, lower-cased.
    for w, word in enumerate(words.words):
        own = [pieces[p].removeprefix("##") for p, o in enumerate(words.piece_words) if w in o]
        if not word.parameter and own:
            normalised = tokenizer._tokenizer.normalizer.normalize_str(word.text.lower())
            assert "".join(own) in normalised.replace(" ", "") or len(own) == 1


def test_word_pieces_merge_into_the_word_the_analyst_reads(tokenizer):
    words = message_words("FAILED su for root by ubuntu", tokenizer)
    assert [w.text for w in words.words] == ["FAILED", "su", "for", "root", "by", "ubuntu"]
    ubuntu = len(words.words) - 1
    assert len(words.pieces_of(ubuntu, 60)) == 4  # u ##bu ##nt ##u
    weights = np.zeros(60)
    weights[5:9] = [0.1, 0.2, 0.1, 0.05]
    assert words.word_weights(weights, 60)[ubuntu] == pytest.approx(0.45)


def test_masked_parameters_are_shown_as_their_values(tokenizer):
    raw = "authentication failure; uid=0 rhost=218.188.2.4 user=root"
    words = message_words(raw, tokenizer)
    texts = [w.text for w in words.words]
    assert "218.188.2.4" in texts and "0" in texts
    ip = texts.index("218.188.2.4")
    assert words.words[ip].parameter
    [piece] = words.pieces_of(ip, 60)
    assert tokenizer.tokens_of(np.asarray([words.piece_ids[piece]])) == ["ip"]


def test_deleting_a_word_removes_all_its_pieces_and_shifts_the_rest(tokenizer):
    raw = "FAILED su for root by ubuntu"
    words = message_words(raw, tokenizer)
    row = words.row_without({0}, 60)
    expected = tokenizer.encode([mask_message("su for root by ubuntu")])[0]
    np.testing.assert_array_equal(row, expected)


def test_words_beyond_the_token_limit_are_not_attributed(tokenizer):
    short = SemanticTokenizer(max_tokens=4)
    words = message_words("alpha beta gamma delta epsilon zeta", short)
    assert [words.words[w].text for w in words.units(4)] == ["alpha", "beta", "gamma", "delta"]


@pytest.mark.parametrize("bad", [None, "", "   ", 12345, "\u200b", "!!! ???"])
def test_nothing_to_explain_gives_no_words(bad, tokenizer):
    assert message_words(bad, tokenizer) is None


def test_occlusion_rows_delete_one_word_or_one_neighbour(tokenizer):
    words = message_words("kernel panic on device sda", tokenizer)
    row = tokenizer.encode([mask_message("kernel panic on device sda")])[0]
    sequence = np.ones((3, 4), np.float32)
    mask = np.asarray([1.0, 1.0, 0.0], np.float32)  # no next event
    rows = occlusion_rows(words, row, sequence, mask, centre=1, explain_words=True,
                          explain_neighbours=True)
    assert len(rows.word_units) == len(words.words) and rows.columns == [0]
    assert len(rows) == len(words.words) + 1
    for r in range(len(rows.word_units)):
        assert (rows.tokens[r] != 0).sum() < (row != 0).sum()
        np.testing.assert_array_equal(rows.sequence_mask[r], mask)
    last = len(rows) - 1
    np.testing.assert_array_equal(rows.tokens[last], row)
    assert rows.sequence_mask[last].tolist() == [0.0, 1.0, 0.0]
    assert not rows.sequence[last, 0].any() and rows.sequence[last, 1].all()
    none = occlusion_rows(None, row, sequence, mask, 1, explain_words=True,
                          explain_neighbours=False)
    assert len(none) == 0


def test_ranked_keeps_only_items_whose_deletion_lowers_the_score():
    assert ranked([10, 11, 12, 13], np.asarray([0.2, -0.1, 0.5, 0.0005]), 3) == \
        [(12, 0.5), (10, 0.2)]
    assert ranked([1], np.asarray([-0.3]), 3) == []


def test_the_readable_line_and_fields():
    neighbour = NeighbourRef(id="d1", index="logs-a", timestamp="2026-01-01T00:00:00Z",
                             offset=-1, message="pam_authenticate: Authentication failure",
                             template="pam_authenticate: Authentication failure", weight=0.6)
    line = explanation_line([("FAILED", 0.42), ("su", 0.1)], neighbour)
    assert line == ('point: "FAILED" (0.42), "su" (0.10); context: previous event '
                    '"pam_authenticate: Authentication failure" (0.60)')
    fields = explanation_fields([("FAILED", 0.42)], None)
    assert fields["attribution"] == {"method": "occlusion", "words": ["FAILED"],
                                     "word_weights": [0.42]}
    assert fields["neighbour"] is None and fields["explanation"].startswith("point:")
    only_context = explanation_fields([], neighbour)
    assert only_context["attribution"] is None
    assert only_context["neighbour"]["id"] == "d1"
    assert only_context["explanation"].startswith("context: previous event")
    assert explanation_fields([], None) == absent() == {"explanation": None,
                                                         "attribution": None, "neighbour": None}
    far = NeighbourRef("d", "i", None, 2, "x" * 500, None, 0.3)
    assert "2 events after" in explanation_line([], far)
    assert len(far.as_fields()["message"]) == 160


def test_label_confirmation_shows_what_the_model_said_and_why():
    from colog.app.cli.feedback_cmd import verdict_line

    source = {"colog": {"status": "enriched", "label": "anomaly", "anomaly_type": "both",
                        "score": 0.934, "context": {"score": 0.61},
                        "explanation": 'point: "FAILED" (0.42)'}}
    assert verdict_line(source) == ('model: anomaly (both, score 0.93, context 0.61); '
                                     'why: point: "FAILED" (0.42)')
    normal = {"colog": {"status": "enriched", "label": "normal", "anomaly_type": "none",
                        "score": 0.1, "context": {"score": 0.2}, "explanation": None}}
    assert verdict_line(normal) == "model: normal (none, score 0.10, context 0.20)"
    assert verdict_line({"colog": {"status": "failed"}}) == "not scored (failed)"
    assert verdict_line({}) == "not scored (pending)"


# --- explain_job: the wiring, with a rule in place of the network ------------------------------

class RuleScorer:
    """Event anomalous while the message has the word piece "failed"; context anomalous while
    the previous event (column 0) is in the window. A stand-in for the network in a unit test
    of what explain_job does with the rows it sends, not a model of anything."""

    classes = ("normal", "event", "context", "both")

    def __init__(self, tokenizer):
        from colog.core.features.spec import FeatureSpec

        self.spec = FeatureSpec(window=1, max_tokens=60)
        self.failed = tokenizer._tokenizer.token_to_id("failed")
        self.calls = []

    def predict(self, modalities, version=None):
        self.calls.append((len(modalities), version))
        event = np.where((modalities.tokens == self.failed).any(axis=1), 0.9, 0.1)
        context = np.where(modalities.sequence_mask[:, 0] > 0.5, 0.8, 0.1)
        probs = np.stack([(1 - event) * (1 - context), event * (1 - context),
                          (1 - event) * context, event * context], axis=1)
        return {"probs": probs.astype(np.float32)}, version


def _ctx_and_job(messages):
    from types import SimpleNamespace

    from colog.core.features.embedding import EMBEDDING_DIM, MemoryCache, SentenceEmbedder
    from colog.core.features.windows import window_indices
    from colog.services.enrich.stages import StageClock
    from colog.services.enrich.template_store import TemplateStore

    tokenizer = SemanticTokenizer(max_tokens=60)
    scorer = RuleScorer(tokenizer)
    embedder = SentenceEmbedder(
        encode=lambda texts: np.ones((len(texts), EMBEDDING_DIM), np.float32),
        cache=MemoryCache())
    ctx = SimpleNamespace(settings=SimpleNamespace(explanations=True), scorer=scorer,
                          tokenizer=tokenizer, embedder=embedder, stages=StageClock(),
                          templates=TemplateStore())
    buffer = [SimpleNamespace(hit={"_id": f"d{i}", "_index": "logs-x", "_source": {
        "@timestamp": f"2026-01-01T00:00:0{i}Z", "message": m}}, masked=mask_message(m))
        for i, m in enumerate(messages)]
    job = SimpleNamespace(buffer=buffer, tokens=tokenizer.encode([e.masked for e in buffer]),
                          window_index=window_indices(["s"] * len(buffer), 1, "context"))
    return ctx, job


def _verdicts(ctx, job, targets):
    from colog.core.verdict import verdicts

    tokens = job.tokens[targets]
    sequence = np.ones((len(targets), 3, 384), np.float32)
    mask = (job.window_index[targets] >= 0).astype(np.float32)
    from colog.core.features.modalities import Modalities

    outputs, _ = ctx.scorer.predict(Modalities(tokens, sequence, mask, job.window_index[targets]))
    outputs["token_attention"] = np.zeros(tokens.shape, np.float32)
    outputs["context_attention"] = np.zeros(mask.shape, np.float32)
    outputs["modality_weights"] = np.full((len(targets), 2), 0.5, np.float32)
    token_strings = [ctx.tokenizer.tokens_of(row) for row in tokens]
    return outputs, verdicts(outputs, list(ctx.scorer.classes), token_strings)


def test_explain_job_names_the_words_and_the_neighbour_that_made_each_verdict():
    from colog.services.enrich.explanations import explain_job

    ctx, job = _ctx_and_job(["session opened for ubuntu", "FAILED su for root by ubuntu",
                             "session opened for root"])
    targets = [0, 1, 2]
    outputs, results = _verdicts(ctx, job, targets)
    assert [v.anomaly_type for v in results] == ["none", "both", "collective"]
    templates = [("1", "session opened for <*>"), ("2", "FAILED su for root by <*>"),
                 ("1", "session opened for <*>")]
    out = explain_job(ctx, job, targets, results, outputs, "7", templates)
    assert out[0] == absent()
    both = out[1]
    assert both["attribution"]["words"] == ["FAILED"]  # only its deletion changes the verdict
    assert both["attribution"]["word_weights"] == [pytest.approx(0.8)]
    assert both["neighbour"]["id"] == "d0" and both["neighbour"]["offset"] == -1
    assert both["neighbour"]["template"] == "session opened for <*>"
    assert both["neighbour"]["weight"] == pytest.approx(0.7)
    assert both["explanation"] == ('point: "FAILED" (0.80); context: previous event '
                                   '"session opened for ubuntu" (0.70)')
    collective = out[2]
    assert collective["attribution"] is None
    assert collective["neighbour"]["id"] == "d1"
    assert collective["explanation"].startswith('context: previous event "FAILED su')
    # One extra call, pinned to the verdicts' version: 6 word rows and 2 neighbour rows for
    # the second event, 1 neighbour row for the third (it has no next event).
    assert ctx.scorer.calls[-1] == (9, "7")


def test_explain_job_leaves_out_what_it_cannot_explain():
    from colog.services.enrich.explanations import explain_job

    ctx, job = _ctx_and_job(["!!! ???", "FAILED", "ok"])
    targets = [1]
    outputs, results = _verdicts(ctx, job, targets)
    ctx.settings.explanations = False
    assert explain_job(ctx, job, targets, results, outputs, "7", [("2", "FAILED")]) == [absent()]
    ctx.settings.explanations = True
    [out] = explain_job(ctx, job, targets, results, outputs, "7", [("2", "FAILED")])
    # A one-word message: the word alone is shown; its neighbour "!!! ???" drove the context.
    assert out["attribution"]["words"] == ["FAILED"]
    assert out["neighbour"]["message"] == "!!! ???"
