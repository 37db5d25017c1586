"""The local AWS: moto's server behind byok's fidelity layer (docs/local-aws.md).

Test infrastructure, never imported by product code. :mod:`byok.localaws.server` runs it
(it needs ``byok[local]``); :mod:`byok.localaws.testing` talks to a running one over HTTP.
"""
