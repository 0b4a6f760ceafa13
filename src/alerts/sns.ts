/**
 * The alert as one SNS message per event (ALERT_TOPIC_ARN). Message attributes
 * carry severity, action, mode and source so a subscription filter policy can
 * route, e.g., only HIGH to the pager.
 */
import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import type { AlertMessage } from './message.js';

export function publishInput(topicArn: string, alert: AlertMessage): PublishCommandInput {
  const { record } = alert;
  const attr = (value: string) => ({ DataType: 'String', StringValue: value });
  return {
    TopicArn: topicArn,
    Subject: alert.subject,
    Message: alert.body,
    MessageAttributes: {
      severity: attr(record.severity),
      action: attr(record.action),
      mode: attr(record.mode),
      source: attr(record.source),
      ...(record.cluster ? { cluster: attr(record.cluster) } : {}),
    },
  };
}

/** Resolves to the SNS message id; rejects on any failure (the caller logs and goes on). */
export async function publishAlert(
  sns: SNSClient,
  topicArn: string,
  alert: AlertMessage,
  abortSignal: AbortSignal,
): Promise<string | undefined> {
  const out = await sns.send(new PublishCommand(publishInput(topicArn, alert)), { abortSignal });
  return out.MessageId;
}
