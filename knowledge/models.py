# Knowledge base models arrive with the knowledge-and-conversation issue.
