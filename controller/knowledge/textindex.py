"""The full-text half of embedded search: an in-memory inverted index scored by Okapi BM25 in numpy.

Why not the fts extension's index tables: its index is not incremental (a write meant a full
rebuild) and the BM25 SQL over them cost ~100 ms at 100k threads once query words were common
(every postings row of every query term went through a join). Here the postings are CSR arrays
(per term: the rows that contain it and how often), plus an append-only tail for rows added
since the last merge (its lists are converted to arrays once per term, and a bulk load ends with
a merge: at 1M rows an unmerged tail cost ~12 ms a query in list conversions), and document
lengths in an array; a query touches only its terms' postings and scores them with a few
vectorised numpy operations (np.bincount sums the terms per row).

Words are lower-cased `[a-z0-9]+`, English stopwords dropped, and stemmed by the fts extension's
Porter stemmer (the store passes `stem`), so ranking matches what the extension would compute:
idf = ln((N - df + 0.5) / (df + 0.5) + 1), k1 = 1.2, b = 0.75. Deleted rows are masked, not
removed (df still counts them until the tail is next merged): a small approximation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable

import numpy as np

from controller.knowledge.vectors import top_rows

K1 = 1.2
B = 0.75
MERGE_MIN = 50_000  # tail postings before they are merged into the CSR arrays
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset([
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
    "does", "doing", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he",
    "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "itself", "just", "me", "more", "most", "my", "myself", "now", "of", "on", "once", "only", "or", "other",
    "our", "ours", "ourselves", "over", "own", "please", "same", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
    "through", "to", "too", "under", "until", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves"
])  # English, minus words that change an operation (up, down, off, out, no, not)


class TextIndex:
    def __init__(self, stem: Callable[[list[str]], list[str]]) -> None:
        self._stem = stem
        self._word_term: dict[str, int] = {}  # surface word -> term id (-1: stopword)
        self._term_id: dict[str, int] = {}  # stem -> term id
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._alive = np.zeros(1024, dtype=bool)
        self._len = np.zeros(1024, dtype=np.float32)
        self._rating = np.full(1024, -1, dtype=np.int16)  # -1: not rated (the store keeps it current)
        self._live_len = 0.0
        self._df = np.zeros(1024, dtype=np.int64)
        # CSR postings: rows of term t are _pdocs[_ptr[t]:_ptr[t + 1]]
        self._ptr = np.zeros(1, dtype=np.int64)
        self._pdocs = np.zeros(0, dtype=np.int32)
        self._ptf = np.zeros(0, dtype=np.float32)
        self._tail: dict[int, tuple[list[int], list[float]]] = {}
        self._tail_np: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # tail postings as arrays, per term
        self._tail_size = 0

    def __len__(self) -> int:
        return len(self._row)

    # ------------------------------------------------------------------------ words

    def _terms_of(self, words: Iterable[str], create: bool) -> None:
        unknown = sorted({w for w in words if w not in self._word_term})
        if not unknown:
            return
        stems = self._stem(unknown)
        for word, st in zip(unknown, stems, strict=True):
            if word in STOPWORDS:
                self._word_term[word] = -1
                continue
            tid = self._term_id.get(st)
            if tid is None:
                if not create:
                    continue
                tid = len(self._term_id)
                self._term_id[st] = tid
            self._word_term[word] = tid
        if len(self._term_id) > len(self._df):
            df = np.zeros(max(len(self._term_id), 2 * len(self._df)), dtype=np.int64)
            df[: len(self._df)] = self._df
            self._df = df

    def query_terms(self, text: str) -> list[int]:
        words = _WORD.findall(text.lower())
        self._terms_of(words, create=False)
        return list(dict.fromkeys(t for w in words if (t := self._word_term.get(w, -1)) >= 0))

    # ------------------------------------------------------------------------ writes

    def _grow(self, rows: int) -> None:
        if rows > len(self._alive):
            size = max(rows, 2 * len(self._alive))
            alive, length = np.zeros(size, dtype=bool), np.zeros(size, dtype=np.float32)
            rating = np.full(size, -1, dtype=np.int16)
            alive[: len(self._ids)] = self._alive[: len(self._ids)]
            length[: len(self._ids)] = self._len[: len(self._ids)]
            rating[: len(self._ids)] = self._rating[: len(self._ids)]
            self._alive, self._len, self._rating = alive, length, rating

    def add(self, ids: list[str], texts: list[str], ratings: list[int | None] | None = None) -> None:
        """Append documents (an id seen before: its old row is masked)."""
        if not ids:
            return
        tokenised = [_WORD.findall(t.lower()) for t in texts]
        self._terms_of((w for words in tokenised for w in words), create=True)
        self.remove(ids)
        start = len(self._ids)
        self._grow(start + len(ids))
        self._ids.extend(ids)
        rows: list[int] = []
        terms: list[int] = []
        wt = self._word_term
        for i, words in enumerate(tokenised):
            row = start + i
            self._row[ids[i]] = row
            tids = [t for w in words if (t := wt[w]) >= 0]
            self._len[row] = len(tids)
            rows.extend([row] * len(tids))
            terms.extend(tids)
        for i, tid in enumerate(ids):  # an id repeated within this call: its last row wins
            if self._row[tid] != start + i:
                self._len[start + i] = 0
        self._alive[start:start + len(ids)] = True
        if ratings is not None:
            self._rating[start:start + len(ids)] = [-1 if r is None else r for r in ratings]
        for i, tid in enumerate(ids):
            if self._row[tid] != start + i:
                self._alive[start + i] = False
        self._live_len += float(self._len[start:start + len(ids)][self._alive[start:start + len(ids)]].sum())
        if not terms:
            return
        p_rows, p_terms, p_tfs = _pairs(np.asarray(rows, dtype=np.int64), np.asarray(terms, dtype=np.int64))
        np.add.at(self._df, p_terms, 1)
        if self._tail_size + len(p_rows) >= max(MERGE_MIN, len(self._pdocs) // 5):
            self._merge(p_rows, p_terms, p_tfs)
            return
        for row, term, f in zip(p_rows.tolist(), p_terms.tolist(), p_tfs.tolist(), strict=True):
            docs, tfs = self._tail.setdefault(term, ([], []))
            docs.append(row)
            tfs.append(f)
        for term in np.unique(p_terms).tolist():
            self._tail_np.pop(term, None)
        self._tail_size += len(p_rows)

    def merge(self) -> None:
        """Merge the tail into the CSR arrays (after a bulk load: the tail may hold a fifth of all
        postings, and a query would convert its terms' tail lists to arrays)."""
        if self._tail_size:
            empty = np.zeros(0, dtype=np.int64)
            self._merge(empty, empty, np.zeros(0, dtype=np.float32))

    def _merge(self, rows: np.ndarray, terms: np.ndarray, tfs: np.ndarray) -> None:
        """Rebuild the CSR arrays from themselves, the tail and the new postings."""
        nterms = len(self._term_id)
        base_terms = np.repeat(np.arange(len(self._ptr) - 1, dtype=np.int64), np.diff(self._ptr))
        t_terms = [np.full(len(d), term, dtype=np.int64) for term, (d, _) in self._tail.items()]
        all_terms = np.concatenate([base_terms, *t_terms, terms])
        all_rows = np.concatenate([self._pdocs.astype(np.int64), *[np.asarray(d, dtype=np.int64)
                                                                   for d, _ in self._tail.values()], rows])
        all_tfs = np.concatenate([self._ptf, *[np.asarray(f, dtype=np.float32) for _, f in self._tail.values()],
                                  tfs.astype(np.float32)])
        keep = self._alive[all_rows]  # postings of dead rows are dropped here
        all_terms, all_rows, all_tfs = all_terms[keep], all_rows[keep], all_tfs[keep]
        order = np.lexsort((all_rows, all_terms))
        self._pdocs = all_rows[order].astype(np.int32)
        self._ptf = all_tfs[order]
        counts = np.bincount(all_terms, minlength=nterms)
        self._ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._df[:nterms] = counts  # exact again: dead rows' postings are gone
        self._tail, self._tail_np, self._tail_size = {}, {}, 0

    def remove(self, ids: list[str]) -> None:
        for tid in ids:
            row = self._row.pop(tid, None)
            if row is not None and self._alive[row]:
                self._alive[row] = False
                self._live_len -= float(self._len[row])

    # ------------------------------------------------------------------------ search

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 < len(self._ptr):
            a, b = self._ptr[term], self._ptr[term + 1]
            docs, tfs = self._pdocs[a:b], self._ptf[a:b]
        else:
            docs, tfs = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        extra = self._tail.get(term)
        if extra:
            arrays = self._tail_np.get(term)
            if arrays is None:  # converted once per term until the tail grows again
                arrays = (np.asarray(extra[0], dtype=np.int32), np.asarray(extra[1], dtype=np.float32))
                self._tail_np[term] = arrays
            docs = np.concatenate([docs, arrays[0]])
            tfs = np.concatenate([tfs, arrays[1]])
        return docs, tfs

    def top(self, text: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The n best live rows by BM25 (optionally only rows where `allowed[row]`), as (id, score)."""
        live = len(self._row)
        terms = self.query_terms(text)
        if not terms or not live or n <= 0:
            return []
        total = live
        avgdl = max(self._live_len / live, 1e-9)
        doc_parts, score_parts = [], []
        for term in terms:
            docs, tfs = self.postings(term)
            if not len(docs):
                continue
            df = float(self._df[term])
            idf = math.log((total - df + 0.5) / (df + 0.5) + 1.0)
            norm = K1 * (1.0 - B + B * self._len[docs] / avgdl)
            doc_parts.append(docs)
            score_parts.append(idf * tfs * (K1 + 1.0) / (tfs + norm))
        if not doc_parts:
            return []
        docs = np.concatenate(doc_parts)
        sums = np.bincount(docs, weights=np.concatenate(score_parts))
        cand = np.flatnonzero(sums)
        mask = self._alive[cand] if allowed is None else self._alive[cand] & allowed[cand]
        cand = cand[mask]
        scores = sums[cand]
        best = top_rows(scores, n)
        return [(self._ids[int(cand[i])], float(scores[i])) for i in best]

    def set_ratings(self, ratings: dict[str, int | None]) -> None:
        for tid, r in ratings.items():
            row = self._row.get(tid)
            if row is not None:
                self._rating[row] = -1 if r is None else r

    def ratings(self, ids: list[str]) -> dict[str, int | None] | None:
        """Ratings by id, or None when an id is unknown here (the caller asks the database)."""
        out: dict[str, int | None] = {}
        for tid in ids:
            row = self._row.get(tid)
            if row is None:
                return None
            r = int(self._rating[row])
            out[tid] = None if r < 0 else r
        return out

    def row_mask(self, ids: set[str]) -> np.ndarray:
        mask = np.zeros(len(self._ids), dtype=bool)
        rows = [self._row[t] for t in ids if t in self._row]
        if rows:
            mask[rows] = True
        return mask


def _pairs(rows: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, term) occurrences -> unique (row, term) pairs with their counts (the term frequency)."""
    width = int(terms.max()) + 1
    keys, counts = np.unique(rows * width + terms, return_counts=True)
    return keys // width, keys % width, counts.astype(np.float32)
