"""IAM enforcement: which requests the caller's policies and the resource's allow (`--iam`).

    needs      what an operation asks for (action, resource, condition keys): services name them
    denial     a refusal in AWS's words
    callers    the caller as a policy Principal, and the request's global condition keys
    other_accounts  what another account's caller gets where it owns nothing: empty listings
    enforcer   the pipeline's step, deliveries between services, and the report of denials
"""

from conveyor.authz.denial import Denial
from conveyor.authz.enforcer import Enforcer
from conveyor.authz.needs import Need

__all__ = ["Denial", "Enforcer", "Need"]
