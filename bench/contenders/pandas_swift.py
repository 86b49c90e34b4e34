"""pandas .apply + python-swiftclient, serial (the notebook's cells 8, 17, 32)."""
import pandas as pd
import swiftclient

import common
from notebook import get_metadata_swift


a = common.args()
connection = swiftclient.Connection(user=common.USER, key=common.KEY, authurl=common.ST_AUTH)
connection.get_account()                      # authenticated before timing, as in the notebook
objects_swift = pd.DataFrame.from_dict({'key': a.key_list}, dtype=str)


def run_once():
    objects_swift['metadata'] = objects_swift['key'].apply(
        get_metadata_swift, connection=connection, container_name=common.BUCKET)
    return objects_swift['metadata'].tolist()


common.main(run_once, a)
