"""Text to matches: normalisation, tone-mark restoration, the lexicon, the lexical and embedding
scorers, sibling groups, the matcher."""
