"""The query side: a query's entry points above the tools they use (spaces, words, candidates, ranking,
mixes, examples, hit data, the duplicates report). Never imports ingestion (indexers/)."""
