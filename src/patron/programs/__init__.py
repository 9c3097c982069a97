"""The loyalty program: a versioned, validated document; publishing makes an immutable version."""
