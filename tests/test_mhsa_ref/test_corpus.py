"""mhsa_ref.corpus: the shipped text is what the grammar generates, and it has what the chapters need."""

from collections import Counter

import pytest

from mhsa_ref import corpus


@pytest.fixture(scope="module")
def generated():
    return corpus.generate()


@pytest.fixture(scope="module")
def written(generated, tmp_path_factory):
    """The two files `write(generate())` produces, written to a temporary folder (the shipped ones stay as they are)."""
    folder = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(corpus, "DATA", folder)
        mp.setattr(corpus, "CORPUS_FILE", folder / "corpus.txt")
        mp.setattr(corpus, "SENSES_FILE", folder / "bank_senses.tsv")
        corpus.write(generated)
    return (folder / "corpus.txt").read_bytes(), (folder / "bank_senses.tsv").read_bytes()


def test_shipped_files_are_what_the_grammar_generates(written):
    corpus_text, senses_text = written
    assert corpus.CORPUS_FILE.read_bytes() == corpus_text, "corpus.txt differs from write(generate())"
    assert corpus.SENSES_FILE.read_bytes() == senses_text, "bank_senses.tsv differs from write(generate())"


def test_write_does_not_touch_the_shipped_files(written):
    assert corpus.DATA.name == "data" and corpus.CORPUS_FILE.parent == corpus.DATA  # monkeypatch undone


def test_generation_is_reproducible_and_depends_on_the_seed(generated):
    assert corpus.generate() == generated
    assert corpus.generate(50) == generated[:50]
    assert corpus.generate(50, seed=1) != generated[:50]
    assert len(generated) == 6000


def test_loaded_corpus_equals_the_generated_sentences(generated):
    sentences = corpus.sentences()
    assert sentences == [list(s.tokens) for s in generated]
    assert all(s and all(t and " " not in t for t in s) for s in sentences)
    sentences[0].append("changed")  # callers get copies
    assert corpus.sentences()[0] == list(generated[0].tokens)


def test_every_bank_has_exactly_one_sense_row():
    sentences = corpus.sentences()
    senses = corpus.bank_senses()
    banks = {(i, j) for i, s in enumerate(sentences) for j, t in enumerate(s) if t == "bank"}
    rows = {(line, position) for line, position, _ in senses}
    assert len(rows) == len(senses)  # no duplicates
    assert all(sentences[line][position] == "bank" for line, position, _ in senses)
    assert rows == banks
    assert {sense for _, _, sense in senses} == {"money", "river"}


def test_sense_rows_agree_with_the_grammar(generated):
    for line, _, sense in corpus.bank_senses():
        assert generated[line].bank_sense == sense
    assert all(s.bank_sense is None for s in generated if "bank" not in s.tokens)


def test_both_senses_in_comparable_numbers():
    counts = Counter(sense for _, _, sense in corpus.bank_senses())
    assert counts["money"] >= 200 and counts["river"] >= 200, counts
    assert 0.5 <= counts["money"] / counts["river"] <= 2, counts


def test_shared_left_context_with_both_senses():
    """'I went to the bank to ...' starts sentences of both senses: only the right context tells them apart."""
    senses = {line: sense for line, _, sense in corpus.bank_senses()}
    found = {senses[i] for i, s in enumerate(corpus.sentences()) if s[1:6] == ["went", "to", "the", "bank", "to"]}
    assert found == {"money", "river"}


def test_i_have_a_dream_occurs_alone_and_in_longer_sentences():
    sentences = corpus.sentences()
    assert ["I", "have", "a", "dream"] in sentences
    assert any(len(s) > 4 and s[:4] == ["I", "have", "a", "dream"] for s in sentences)


def test_word_classes_occur_in_the_corpus():
    words = {t for s in corpus.sentences() for t in s}
    for kind in (corpus.ANIMALS, corpus.FOODS, corpus.DRINKS, corpus.COLOURS, list(corpus.PLACES)):
        assert set(kind) <= words, set(kind) - words


def test_sense_table_format():
    lines = corpus.SENSES_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line\tposition\tsense"
    assert len(lines) - 1 == len(corpus.bank_senses())
