# Accounts, leads, activities and the lead lifecycle arrive with issue #3.
