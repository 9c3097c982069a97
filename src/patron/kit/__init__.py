"""Framework helpers with no domain words: clock, ids, money, pagination."""
