"""Tell someone: send each new alert once to a webhook and/or by email, and record it."""

from asaas.notify.channels import DeliveryError, Email, Masker, Webhook
from asaas.notify.deliver import (NotifyOptions, NotifyReport, Outcome, channels_from_settings,
                                  masker_from_settings, notify)
from asaas.notify.message import AlertMessage

__all__ = ["AlertMessage", "DeliveryError", "Email", "Masker", "NotifyOptions", "NotifyReport",
           "Outcome", "Webhook", "channels_from_settings", "masker_from_settings", "notify"]
