"""The ticket page's writes, one module per panel; each answers through `ticket_page.changed`
or `ticket_page.refused`."""
