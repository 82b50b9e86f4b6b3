// Package checks is Rampart's catalog: one file per check (helpers shared by
// a family of checks live in a file of the family's name), each with its
// fixtures in testdata/<check-id>/. Builtin is the one explicit list.
package checks

import "github.com/rampart-k8s/rampart/pkg/check"

// Builtin returns every built-in check; the registry sorts them by ID.
func Builtin() []check.Check {
	return []check.Check{
		// schema
		schemaCheck(),
		// Pod Security Standards
		pssAllowPrivilegeEscalation(),
		pssAppArmor(),
		pssCapabilitiesBaseline(),
		pssCapabilitiesRestricted(),
		pssHostNamespaces(),
		pssHostPathVolumes(),
		pssHostPorts(),
		pssHostProbesLifecycle(),
		pssPrivileged(),
		pssProcMount(),
		pssProcMountRestricted(),
		pssRestrictedVolumes(),
		pssRunAsNonRoot(),
		pssRunAsUser(),
		pssSeccompBaseline(),
		pssSeccompRestricted(),
		pssSELinux(),
		pssSysctls(),
		pssWindowsHostProcess(),
		// containers
		readOnlyRootFilesystem(),
		rootGroup(),
		shareProcessNamespace(),
		// capabilities
		capAll(),
		capBPF(),
		capDacReadSearch(),
		capNetAdmin(),
		capNetRaw(),
		capPerfmon(),
		capSysAdmin(),
		capSysBoot(),
		capSysModule(),
		capSysPtrace(),
		capSysRawio(),
		capSysTime(),
		// resources
		cpuLimitMissing(),
		cpuRequestMissing(),
		ephemeralStorageLimitMissing(),
		livenessProbeMissing(),
		memoryLimitMissing(),
		memoryRequestMissing(),
		readinessProbeMissing(),
		// images
		imageNotPinned(),
		imagePullPolicyNotAlways(),
		imageRegistryNotAllowed(),
		imageTagLatest(),
		// secrets
		hardcodedCredentialAnnotation(),
		hardcodedCredentialArgs(),
		hardcodedCredentialConfigMap(),
		hardcodedCredentialEnv(),
		hardcodedCredentialSpec(),
		credentialPlaceholder(),
		secretEnvVar(),
		secretInManifest(),
		// service accounts
		defaultServiceAccount(),
		legacySATokenSecret(),
		saTokenAutomount(),
		// exposure
		ingressNoTLS(),
		ingressWildcardHost(),
		serviceLoadBalancer(),
		serviceNodePort(),
		// network policies
		namespaceWithoutNetworkPolicy(),
		networkPolicySelectsNothing(),
		noDefaultDenyEgress(),
		noDefaultDenyIngress(),
		workloadNotSelectedEgress(),
		workloadNotSelectedIngress(),
		// RBAC
		rbacAnonymousBinding(),
		rbacClusterAdminBinding(),
		rbacEscalationPath(),
		rbacEscalateBind(),
		rbacImpersonate(),
		rbacNodesProxy(),
		rbacPodCreate(),
		rbacPodExec(),
		rbacSecretsRead(),
		rbacTokenCreate(),
		rbacWebhookChanges(),
		rbacWildcardAPIGroups(),
		rbacWildcardResources(),
		rbacWildcardVerbs(),
		// namespaces
		namespacePSSNotEnforced(),
		workloadInDefaultNamespace(),
		workloadInKubeSystem(),
		// deprecated APIs
		deprecatedAPIVersion(),
		removedAPIVersion(),
		// suppressions
		suppressionUnknownCheck(),
		suppressionWithoutReason(),
	}
}

// Registry returns the validated built-in catalog.
func Registry() (*check.Registry, error) {
	return check.NewRegistry(Builtin())
}
