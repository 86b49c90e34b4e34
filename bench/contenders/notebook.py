"""The notebook's sidecar function for python-swiftclient (its cell 17), verbatim,
shared by the contenders that use it. A module of its own so that Dask's
worker processes import it by name, as they would the notebook's."""


def get_metadata_swift(key, connection, container_name):   # the notebook's cell 17, verbatim
    metadata = None
    if key.endswith('.zip'):
        try:
            metadata = str(connection.get_object(container_name, ''.join([key, '.metadata']))[1].decode('UTF-8'))
        except:  # noqa: E722 -- as the notebook; the answer check catches what it hides
            return ''
        return metadata
    else:
        return ''
