import e
