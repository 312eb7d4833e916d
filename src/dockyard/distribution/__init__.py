"""Registry client: auth challenges and tokens, resolve, fetch, push."""
