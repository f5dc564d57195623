from . import fmt
