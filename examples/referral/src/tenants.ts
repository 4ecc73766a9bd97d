import type { Referral } from './tasks.js';

/** The referrals the demo starts. `t-6` is the tenant whose risk check never goes through. */
export const TENANTS: readonly Referral[] = [
  { tenantId: 't-1', tenant: 'Alice Martin', landlord: 'Foncia Lyon', monthlyRent: 950 },
  { tenantId: 't-2', tenant: 'Bruno Costa', landlord: 'Nexity Paris 11', monthlyRent: 1280 },
  { tenantId: 't-3', tenant: 'Chloe Dubois', landlord: 'Citya Nantes', monthlyRent: 720 },
  { tenantId: 't-4', tenant: 'David Leroy', landlord: 'Orpi Bordeaux', monthlyRent: 1100 },
  { tenantId: 't-5', tenant: 'Emma Petit', landlord: 'Foncia Lyon', monthlyRent: 860 },
  { tenantId: 't-6', tenant: 'Farid Haddad', landlord: 'Laforet Lille', monthlyRent: 1490 },
  { tenantId: 't-7', tenant: 'Gina Rossi', landlord: 'Nexity Paris 11', monthlyRent: 1020 },
  { tenantId: 't-8', tenant: 'Hugo Bernard', landlord: 'Century 21 Nice', monthlyRent: 1340 },
];

export const DOOMED_TENANT = 't-6';
