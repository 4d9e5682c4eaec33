"""The city forum (凤城论坛): posts read from its RSS or Atom feed (`feed`, with
feedparser) become tickets of the forum channel, each post once (`importer`); the SQL is
in `repository`."""
