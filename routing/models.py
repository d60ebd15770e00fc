# Routing rules, offers and decision traces arrive with issue #5.
