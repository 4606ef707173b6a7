"""placeholder, replaced below"""
def dream(*a, **k):
    raise NotImplementedError
