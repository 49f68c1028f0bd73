// edge-cdi-check runs CDI's own DataVolume mutating and validating webhooks
// (pkg/apiserver/webhooks/datavolume-mutate.go, datavolume-validate.go), in process and through
// their HTTP handlers, on the DataVolumes a plan emits, and prints their answers. The mutating
// webhook authorizes a clone with a SubjectAccessReview for datavolumes/source in the source's
// namespace (cdi-api's AuthorizeUser): a fake API client answers every review allowed and the
// reviews are printed, so a test can assert what CDI asked.
//
// Built inside the CDI tree by scripts/kubevirt-tools.sh, so its vendor/ serves it.
//
// Input (stdin), JSON: {"user": "edge-operator", "namespaces": ["edge-images", ...],
// "dataVolumes": [DataVolume...]}; the namespaces are those the stack creates.
// Output (stdout), JSON: {"cdiVersion", "cdiCommit", "results": [one per DataVolume, in order]}.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"

	snapfake "github.com/kubernetes-csi/external-snapshotter/client/v6/clientset/versioned/fake"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"kubevirt.io/containerized-data-importer/pkg/apiserver/webhooks"
	cdifake "kubevirt.io/containerized-data-importer/pkg/client/clientset/versioned/fake"
	cc "kubevirt.io/containerized-data-importer/pkg/controller/common"
)

// Set by scripts/kubevirt-tools.sh (-X).
var edgeVersion, edgeCommit string

type input struct {
	User        string            `json:"user"`
	Namespaces  []string          `json:"namespaces"`
	DataVolumes []json.RawMessage `json:"dataVolumes"`
}

type admission struct {
	Allowed  bool     `json:"allowed"`
	Code     int32    `json:"code,omitempty"`
	Message  string   `json:"message,omitempty"`
	Warnings []string `json:"warnings"`
}

type result struct {
	Namespace  string     `json:"namespace"`
	Name       string     `json:"name"`
	Mutation   *admission `json:"mutation,omitempty"`
	Validation *admission `json:"validation,omitempty"`
	// The annotations after the mutating webhook's patch; the clone token's value is masked.
	Annotations map[string]string `json:"annotations,omitempty"`
	// The SubjectAccessReviews CDI created while admitting this DataVolume.
	SubjectAccessReviews []authv1.SubjectAccessReviewSpec `json:"subjectAccessReviews"`
	Error                string                           `json:"error,omitempty"`
}

type output struct {
	CdiVersion string   `json:"cdiVersion"`
	CdiCommit  string   `json:"cdiCommit"`
	Results    []result `json:"results"`
}

const maskedToken = "<clone token>"

// call posts one AdmissionReview to a webhook handler, as the API server does.
func call(handler http.Handler, review *admissionv1.AdmissionReview) (*admissionv1.AdmissionResponse, error) {
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	out := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		return nil, fmt.Errorf("webhook answered %q: %v", rec.Body.String(), err)
	}
	if out.Response == nil {
		return nil, fmt.Errorf("webhook answered no response: %s", rec.Body.String())
	}
	return out.Response, nil
}

func answer(r *admissionv1.AdmissionResponse) *admission {
	a := &admission{Allowed: r.Allowed, Warnings: r.Warnings}
	if a.Warnings == nil {
		a.Warnings = []string{}
	}
	if r.Result != nil {
		a.Code = r.Result.Code
		a.Message = r.Result.Message
	}
	return a
}

func main() {
	version := flag.Bool("version", false, "print the CDI version it was built from")
	flag.Parse()
	if *version {
		fmt.Printf("cdi %s %s\n", edgeVersion, edgeCommit)
		return
	}
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge-cdi-check:", err)
		os.Exit(2)
	}
	in := &input{}
	if err := json.Unmarshal(data, in); err != nil {
		fmt.Fprintln(os.Stderr, "edge-cdi-check: input:", err)
		os.Exit(2)
	}
	if in.User == "" {
		in.User = "edge-operator"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edge-cdi-check:", err)
		os.Exit(2)
	}

	var mu sync.Mutex
	var reviews []authv1.SubjectAccessReviewSpec
	k8sClient := k8sfake.NewSimpleClientset()
	for _, name := range in.Namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := k8sClient.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "edge-cdi-check:", err)
			os.Exit(2)
		}
	}
	k8sClient.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		sar := action.(k8stesting.CreateAction).GetObject().(*authv1.SubjectAccessReview).DeepCopy()
		mu.Lock()
		reviews = append(reviews, sar.Spec)
		mu.Unlock()
		sar.Status = authv1.SubjectAccessReviewStatus{Allowed: true, Reason: "edge-cdi-check allows every review"}
		return true, sar, nil
	})
	cdiClient := cdifake.NewSimpleClientset()
	// CDI's validating webhook reaches the controller-runtime client only for a DataVolume whose
	// PVC exists already (ClaimMayExistBeforeDataVolume); the fake API has none.
	mutate := webhooks.NewDataVolumeMutatingWebhook(k8sClient, cdiClient, key)
	validate := webhooks.NewDataVolumeValidatingWebhook(k8sClient, cdiClient, snapfake.NewSimpleClientset(), nil)

	out := output{CdiVersion: edgeVersion, CdiCommit: edgeCommit, Results: []result{}}
	for _, raw := range in.DataVolumes {
		out.Results = append(out.Results, func() (res result) {
			res.SubjectAccessReviews = []authv1.SubjectAccessReviewSpec{}
			reviews = nil
			defer func() {
				if r := recover(); r != nil {
					res.Error = fmt.Sprint("panic: ", r)
				}
				res.SubjectAccessReviews = append(res.SubjectAccessReviews, reviews...)
			}()
			dv := &cdiv1.DataVolume{}
			if err := json.Unmarshal(raw, dv); err != nil {
				res.Error = "not a DataVolume: " + err.Error()
				return
			}
			res.Namespace, res.Name = dv.Namespace, dv.Name
			review := func(object []byte) *admissionv1.AdmissionReview {
				return &admissionv1.AdmissionReview{
					TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
					Request: &admissionv1.AdmissionRequest{
						UID:       types.UID("edge-dv-" + dv.Namespace + "-" + dv.Name),
						Kind:      metav1.GroupVersionKind{Group: "cdi.kubevirt.io", Version: "v1beta1", Kind: "DataVolume"},
						Resource:  metav1.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"},
						Namespace: dv.Namespace,
						Name:      dv.Name,
						Operation: admissionv1.Create,
						UserInfo:  authenticationv1.UserInfo{Username: in.User, Groups: []string{"system:authenticated"}},
						Object:    runtime.RawExtension{Raw: object},
					},
				}
			}
			mutation, err := call(mutate, review(raw))
			if err != nil {
				res.Error = err.Error()
				return
			}
			res.Mutation = answer(mutation)
			if !mutation.Allowed {
				return
			}
			stored := raw
			if len(mutation.Patch) > 0 {
				p, err := jsonpatch.DecodePatch(mutation.Patch)
				if err == nil {
					stored, err = p.Apply(raw)
				}
				if err != nil {
					res.Error = "applying the mutating webhook's patch: " + err.Error()
					return
				}
			}
			mutated := &cdiv1.DataVolume{}
			if err := json.Unmarshal(stored, mutated); err != nil {
				res.Error = err.Error()
				return
			}
			res.Annotations = mutated.Annotations
			if _, ok := res.Annotations[cc.AnnCloneToken]; ok {
				res.Annotations[cc.AnnCloneToken] = maskedToken
			}
			validation, err := call(validate, review(stored))
			if err != nil {
				res.Error = err.Error()
				return
			}
			res.Validation = answer(validation)
			return
		}())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "edge-cdi-check:", err)
		os.Exit(2)
	}
}
