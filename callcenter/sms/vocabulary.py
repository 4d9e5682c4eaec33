"""The words the SMS platform sends to citizens."""

ACKNOWLEDGEMENT = "【12345】您的短信已收到，工单号{ticket_id}，工作人员将尽快答复。"
