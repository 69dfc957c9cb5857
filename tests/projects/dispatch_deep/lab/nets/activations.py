from .. import backend as bkd


def get(identifier):
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return {"relu": bkd.relu, "sigmoid": bkd.sigmoid}[identifier.lower()]
    return identifier
