/**
 * AWS SDK v3 clients, made once per Runtime (one per Lambda container, one per CLI run)
 * and each only when first used. KMS, Signer and SSM serve a few settings only (cosign
 * `kmsKey`, `aws-signer` revocation, POLICY_PARAMETER and the Slack webhook): their SDK
 * modules are imported on first use, so a Lambda does not load them at module init (the
 * bundles split at these imports) and never when its configuration does not need them.
 * They take region, credentials and endpoints from the SDK's standard settings
 * (AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_ECS, ...): no endpoint is written here.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { ECRClient } from '@aws-sdk/client-ecr';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SignerClient } from '@aws-sdk/client-signer';
import { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';

export interface AwsClients {
  ecs: ECSClient;
  ecrFor(region: string): ECRClient;
  kmsFor(region?: string): Promise<KMSClient>;
  signerFor(region?: string): Promise<SignerClient>;
  /** the SDK module is imported on the first call */
  ssm(): Promise<SSMClient>;
  sns: SNSClient;
  eventBridge: EventBridgeClient;
}

export function makeAwsClients(): AwsClients {
  const perRegion = <T>(make: (region?: string) => T) => {
    const made = new Map<string, T>();
    return (region?: string): T => {
      const key = region ?? '';
      let client = made.get(key);
      if (!client) made.set(key, (client = make(region)));
      return client;
    };
  };
  let ecs: ECSClient | undefined;
  let ssm: Promise<SSMClient> | undefined;
  let sns: SNSClient | undefined;
  let eventBridge: EventBridgeClient | undefined;
  return {
    get ecs() {
      return (ecs ??= new ECSClient({}));
    },
    ecrFor: perRegion((region) => new ECRClient(region ? { region } : {})),
    kmsFor: perRegion(async (region) => {
      const { KMSClient } = await import('@aws-sdk/client-kms');
      return new KMSClient(region ? { region } : {});
    }),
    signerFor: perRegion(async (region) => {
      const { SignerClient } = await import('@aws-sdk/client-signer');
      return new SignerClient(region ? { region } : {});
    }),
    ssm: () => (ssm ??= import('@aws-sdk/client-ssm').then(({ SSMClient }) => new SSMClient({}))),
    get sns() {
      return (sns ??= new SNSClient({}));
    },
    get eventBridge() {
      return (eventBridge ??= new EventBridgeClient({}));
    },
  };
}
