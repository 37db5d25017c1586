"""The customer's toolkit: set up, audit and watch the key a tenant brings (customer guide).

* :func:`byok.customer.setup.run_setup`: create or adopt the key and client role, idempotently;
* :mod:`byok.customer.audit`: read the set-up from AWS and report findings;
* :mod:`byok.customer.activity`: the vendor's uses of the key, from CloudTrail.

All AWS calls go through :class:`byok.customer.aws.CustomerAws`, with the customer's own
credentials. The documents come from :mod:`byok.core.policy.templates`.
"""

from __future__ import annotations
