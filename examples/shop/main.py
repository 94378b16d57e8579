"""One image, three roles: ROLE picks the API (default), the queue worker or the ledger run."""

import os

from shop import api, ledger, worker

if __name__ == "__main__":
    {"worker": worker.run, "ledger": ledger.run}.get(os.environ.get("ROLE", ""), api.run)()
