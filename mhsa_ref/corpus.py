"""The course's corpus: short English sentences generated from a small grammar (chapters 01–03).

The text is shipped in `mhsa_ref/data/corpus.txt` (one sentence per line, tokens separated by
spaces) and its README describes the grammar. It is written by `generate()` below, with a fixed
seed, so it is ours to ship and the same on every machine; `python -m mhsa_ref.corpus` rewrites it
and tests/test_mhsa_ref/test_corpus.py checks that the shipped file is what the grammar gives.

The grammar is built so that the chapters' claims visibly hold:
  - words of one kind (animals, foods, drinks, cities, colours, ...) fill the same slots, so
    word2vec puts them near each other;
  - "bank" has two senses, money and river, told apart only by the words around it; some
    sentences share the left context ("I went to the bank to ...") and differ on the right;
  - "I have a dream" appears, alone and in longer sentences, for the attention chapters.
Every occurrence of "bank" has its sense recorded in `mhsa_ref/data/bank_senses.tsv`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

DATA = Path(__file__).resolve().parent / "data"
CORPUS_FILE = DATA / "corpus.txt"
SENSES_FILE = DATA / "bank_senses.tsv"
MASKED_VERBS_FILE = DATA / "masked_verbs.tsv"
SEED = 1963  # the year of the speech whose first words the course uses
MASKED_VERBS_SEED = 2017  # the year of "Attention is all you need"

# --- the word classes -------------------------------------------------------------------------------
PEOPLE = ["farmer", "teacher", "doctor", "child", "baker", "sailor", "student", "painter"]
SUBJECTS = ["I", "we", "they", "she", "he"]
ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat", "pig", "duck"]
FOODS = ["bread", "cheese", "rice", "soup", "apples", "cake", "eggs", "beans"]
DRINKS = ["tea", "coffee", "milk", "juice", "wine"]
MEALS = ["breakfast", "lunch", "dinner"]
PLACES = {"paris": "france", "rome": "italy", "berlin": "germany", "madrid": "spain",
          "lisbon": "portugal", "london": "england", "vienna": "austria", "athens": "greece"}
VEHICLES = ["train", "bus", "car", "bicycle", "ship"]
COLOURS = ["red", "blue", "green", "yellow", "white", "black"]
THINGS = ["door", "fence", "house", "boat", "wall", "chair"]
MONEY = ["money", "cash", "savings", "coins", "salary", "wages"]
MONEY_VERBS = ["deposited", "withdrew", "borrowed", "saved", "counted"]
WATERS = ["river", "stream", "lake"]
RIVER_SIGHTS = ["fish", "reeds", "ducks", "herons", "frogs"]
HOPES = ["dream", "hope", "wish", "plan"]
TIMES = ["morning", "evening", "night", "afternoon"]
CLAUSES = [
    "the children will play together",
    "every child will learn to read",
    "we will live in peace",
    "the farmer will sell the horse",
    "they will travel to paris",
    "one day we will be free",
]


# --- the masked-verb task of chapter 09 (its own file: corpus.txt, and chapters 01–08, stay as they are) ---
# The verb after the subject depends on two other places: its form on the subject ("she counts",
# "they count"), its sense on the object ("counts the coins", "watches the herons").
MASKED_VERBS = {("money", "plural"): "count", ("money", "singular"): "counts",
                ("river", "plural"): "watch", ("river", "singular"): "watches"}
SINGULAR_SUBJECTS = ["she", "he"]  # and "the {person}"
PLURAL_SUBJECTS = ["I", "we", "they"]  # "I" takes the plural form too: "I count"
LEFT_VERBS = ["left", "saw", "found"]
TELLING_VERBS = ["said", "heard"]  # "{subject} said that ...": an opener with a subject of its own


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[str, ...]
    bank_sense: str | None  # "money" or "river" when the sentence contains "bank"


def _templates(r: random.Random) -> list[tuple[float, str, str | None]]:
    """(weight, sentence, bank sense) for one draw of every template."""
    c = r.choice
    city, country = c(list(PLACES.items()))
    city2 = c([p for p in PLACES if p != city])
    person, subj = c(PEOPLE), c(SUBJECTS)
    return [
        # animals
        (3, f"the {person} fed the {c(ANIMALS)} in the {c(TIMES)}", None),
        (3, f"the {c(ANIMALS)} slept in the barn", None),
        (3, f"the {c(ANIMALS)} ran across the field", None),
        (2, f"{subj} saw a {c(COLOURS)} {c(ANIMALS)} near the farm", None),
        (2, f"the {c(ANIMALS)} and the {c(ANIMALS)} ate grass", None),
        # food and drink
        (3, f"{subj} ate {c(FOODS)} for {c(MEALS)}", None),
        (3, f"{subj} drank {c(DRINKS)} with {c(MEALS)}", None),
        (2, f"the baker sold {c(FOODS)} and {c(FOODS)}", None),
        (2, f"the {person} cooked {c(FOODS)} for the {c(PEOPLE)}", None),
        (2, f"a cup of {c(DRINKS)} and a plate of {c(FOODS)}", None),
        # places and travel
        (3, f"{subj} travelled from {city} to {city2} by {c(VEHICLES)}", None),
        (2, f"{city} is the capital of {country}", None),
        (2, f"the {person} lives in {city} in {country}", None),
        (2, f"the {c(VEHICLES)} to {city} left in the {c(TIMES)}", None),
        # colours and things
        (2, f"the {person} painted the {c(THINGS)} {c(COLOURS)}", None),
        (2, f"the {c(THINGS)} was {c(COLOURS)} and the {c(THINGS)} was {c(COLOURS)}", None),
        # bank, money sense
        (2, f"{subj} {c(MONEY_VERBS)} {c(MONEY)} at the bank", "money"),
        (2, f"the bank lent {c(MONEY)} to the {person}", "money"),
        (1, f"the {person} opened an account at the bank", "money"),
        (1, "the bank paid interest on the savings", "money"),
        (2, f"{subj} went to the bank to deposit the {c(MONEY)}", "money"),
        (1, f"the clerk at the bank counted the {c(MONEY)}", "money"),
        # bank, river sense
        (2, f"{subj} sat on the bank of the {c(WATERS)}", "river"),
        (2, f"{c(RIVER_SIGHTS)} live on the bank of the {c(WATERS)}", "river"),
        (1, f"the boat drifted toward the bank of the {c(WATERS)}", "river"),
        (1, f"the {c(ANIMALS)} drank water from the {c(WATERS)} bank", "river"),
        (2, f"{subj} went to the bank to watch the {c(RIVER_SIGHTS)}", "river"),
        (1, f"the {person} walked along the bank in the {c(TIMES)}", "river"),
        # money and rivers without a bank
        (2, f"the {person} {c(MONEY_VERBS)} the {c(MONEY)}", None),
        (2, f"{c(RIVER_SIGHTS)} swim in the {c(WATERS)}", None),
        (1, f"{subj} crossed the {c(WATERS)} by boat", None),
        # dreams
        (3, "I have a dream", None),
        (2, f"I have a dream that {c(CLAUSES)}", None),
        (2, f"the {person} has a {c(HOPES)}", None),
        (2, f"{subj} had a {c(HOPES)} about {city}", None),
        (2, f"{subj} told the {c(PEOPLE)} about a {c(HOPES)}", None),
        (2, f"I have a {c(ANIMALS)} and a {c(ANIMALS)}", None),
    ]


def generate(n_sentences: int = 6000, seed: int = SEED) -> list[Sentence]:
    """Draw `n_sentences` sentences from the grammar, reproducibly."""
    r = random.Random(seed)
    sentences = []
    for _ in range(n_sentences):
        options = _templates(r)
        _, text, sense = r.choices(options, weights=[w for w, _, _ in options])[0]
        sentences.append(Sentence(tuple(text.split()), sense))
    return sentences


def _subject(r: random.Random) -> tuple[str, str]:
    """A subject and its number: a pronoun, or "the {person}" (singular)."""
    kind = r.choice(["singular", "plural", "person"])
    if kind == "person":
        return f"the {r.choice(PEOPLE)}", "singular"
    return r.choice(SINGULAR_SUBJECTS if kind == "singular" else PLURAL_SUBJECTS), kind


def masked_verb_sentences(n_sentences: int = 3000, seed: int = MASKED_VERBS_SEED) -> list[tuple[tuple[str, ...], int]]:
    """(tokens, position of the verb) for the masked-verb task of chapter 09, reproducibly.

    "{opener}{subject} {verb} the {object} that {other subject} {left verb} {at|near} the bank":
    the verb's form follows the subject, its sense the object's class (money or river). Two other
    subjects are distractors that only word order tells apart from the verb's own: the one after it
    ("that they left"), and in half the sentences one before it, in the opener ("the farmer said that
    she counts ..."), so the first person word of a sentence is not its verb's subject. The opener
    ("", "in the evening", "every morning", "{subject} said|heard that") moves the verb by 1 to 7 places.
    """
    r = random.Random(seed)
    out = []
    for _ in range(n_sentences):
        teller = f"{_subject(r)[0]} {r.choice(TELLING_VERBS)} that "  # past tense: its form says nothing
        opener = r.choice(["", f"in the {r.choice(TIMES)} ", f"every {r.choice(TIMES)} ", teller, teller])
        subject, number = _subject(r)
        sense = r.choice(["money", "river"])
        thing = r.choice(MONEY if sense == "money" else RIVER_SIGHTS)
        other, _ = _subject(r)
        text = (f"{opener}{subject} {MASKED_VERBS[sense, number]} the {thing} that {other} "
                f"{r.choice(LEFT_VERBS)} {r.choice(['at', 'near'])} the bank")
        tokens = tuple(text.split())
        out.append((tokens, len(opener.split()) + len(subject.split())))
    return out


def write_masked_verbs(rows: list[tuple[tuple[str, ...], int]]) -> None:
    lines = ["sentence\tverb position"] + [f"{' '.join(tokens)}\t{position}" for tokens, position in rows]
    MASKED_VERBS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")


@lru_cache(maxsize=1)
def _load_masked_verbs() -> tuple[tuple[tuple[str, ...], int], ...]:
    rows = []
    for line in MASKED_VERBS_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        text, position = line.split("\t")
        rows.append((tuple(text.split()), int(position)))
    return tuple(rows)


def masked_verbs() -> list[tuple[list[str], int]]:
    """The shipped masked-verb task: (tokens, position of the verb) per sentence."""
    return [(list(tokens), position) for tokens, position in _load_masked_verbs()]


def write(sentences: list[Sentence]) -> None:
    DATA.mkdir(exist_ok=True)
    CORPUS_FILE.write_text("".join(" ".join(s.tokens) + "\n" for s in sentences), encoding="utf-8")
    rows = ["line\tposition\tsense"]
    for line, s in enumerate(sentences):
        rows += [f"{line}\t{i}\t{s.bank_sense}" for i, t in enumerate(s.tokens) if t == "bank"]
    SENSES_FILE.write_text("\n".join(rows) + "\n", encoding="utf-8")


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[int, int, str], ...]]:
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    sentences = tuple(tuple(line.split()) for line in lines)
    senses = []
    for row in SENSES_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        line, position, sense = row.split("\t")
        senses.append((int(line), int(position), sense))
    return sentences, tuple(senses)


def sentences() -> list[list[str]]:
    """The shipped corpus: a list of sentences, each a list of tokens."""
    return [list(s) for s in _load()[0]]


def word_classes() -> dict[str, str]:
    """The grammar's class of each content word ("animal", "food", ...), for colouring figures."""
    classes = {
        "person": PEOPLE, "animal": ANIMALS, "food": FOODS, "drink": DRINKS, "meal": MEALS,
        "city": list(PLACES), "country": list(PLACES.values()), "vehicle": VEHICLES, "colour": COLOURS,
        "thing": THINGS, "money": MONEY, "water": WATERS + RIVER_SIGHTS, "hope": HOPES, "time": TIMES,
    }
    return {word: name for name, words in classes.items() for word in words}


def bank_senses() -> list[tuple[int, int, str]]:
    """(sentence index, token position, "money" or "river") for every "bank" in the corpus."""
    return list(_load()[1])


# --- training, validation and held-out parts: duplicates removed, then split (chapter 09) ------------------
# The grammar repeats sentences ("I have a dream" is a twentieth of the corpus), so a split by line would
# hold out sentences that training has seen word for word. Each *distinct* sentence belongs to one part,
# chosen by a hash of its words: 70 % training, 10 % validation (choosing a learning rate), 20 % held out
# (every score the book prints). A sentence's every copy is in the same part, so no model ever trains on a
# held-out or a validation sentence. One rule keeps the vocabulary closed: a sentence with a word that no
# training sentence has is trained on (3 of the corpus's 2,238 distinct sentences), so every word is known.
PARTS = ("training", "validation", "held-out")


def _bucket(tokens: Sequence[str]) -> str:
    digit = int.from_bytes(hashlib.sha256(" ".join(tokens).encode()).digest()[:8], "big") % 10
    return "held-out" if digit < 2 else "validation" if digit == 2 else "training"


def parts(items: Sequence[Sequence[str]]) -> list[str]:
    """The part of each sentence of `items`: "training", "validation" or "held-out" (the same for every copy)."""
    distinct = {tuple(t): _bucket(t) for t in items}
    known = {w for tokens, part in distinct.items() if part == "training" for w in tokens}
    for tokens, part in distinct.items():  # in order of first appearance
        if part != "training" and not known.issuperset(tokens):
            distinct[tokens] = "training"
            known.update(tokens)
    return [distinct[tuple(t)] for t in items]


@lru_cache(maxsize=1)
def _corpus_parts() -> tuple[str, ...]:
    return tuple(parts(_load()[0]))


def sentence_parts() -> list[str]:
    """The part of each corpus sentence, by line: "training", "validation" or "held-out"."""
    return list(_corpus_parts())


def training_sentences() -> list[list[str]]:
    """The corpus's training part, every copy of each sentence kept (so word frequencies are the corpus's)."""
    return [list(s) for s, part in zip(_load()[0], _corpus_parts()) if part == "training"]


def distinct_sentences(part: str) -> list[list[str]]:
    """The distinct corpus sentences of one part, once each, in order of first appearance."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}; got {part!r}")
    chosen = dict.fromkeys(s for s, p in zip(_load()[0], _corpus_parts()) if p == part)
    return [list(s) for s in chosen]


if __name__ == "__main__":
    write(generate())
    write_masked_verbs(masked_verb_sentences())
    print(f"wrote {CORPUS_FILE}, {SENSES_FILE} and {MASKED_VERBS_FILE}")
