// The API handle pages use; provided once by App.
import { createContext, useContext } from 'react';
import type { AdminApi } from './admin';
import type { Profile } from './types';

export interface ApiContextValue {
  api: AdminApi;
  me: Profile;
}

export const ApiContext = createContext<ApiContextValue | null>(null);

export function useApi(): ApiContextValue {
  const v = useContext(ApiContext);
  if (!v) throw new Error('useApi outside ApiContext');
  return v;
}
