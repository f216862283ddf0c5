"""The portal's business facts: identifiers, the employers' insurance list, its DBF pair."""
