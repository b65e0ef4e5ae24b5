// Dependency-injection entry point of @opencdp/adapter-aws (named in package.json's `opencdp` field):
// binds the PlatformProvider an appliance process loads by package name to get EC2, EBS and S3.
import { ContainerModule } from 'inversify';
import { PlatformProvider } from '@opencdp/core';
import { AwsPlatformProvider } from './aws-platform-provider.js';

export const awsAdapterModule = new ContainerModule(({ bind }) => {
  bind<PlatformProvider>(PlatformProvider).toConstantValue(new AwsPlatformProvider());
});
