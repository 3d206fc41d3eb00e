"""The demo knowledge base: categories, sections and articles in English, Spanish and Italian."""
