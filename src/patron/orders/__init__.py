"""Orders the shop reported, members' or not, with what each earned and gave back."""
