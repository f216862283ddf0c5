"""The portal: logins, records, workshops, insurance lists, prescriptions, drafts."""
